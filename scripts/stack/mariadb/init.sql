-- Applied on every `make up` (idempotent). Dev logins only: loopback, well-known passwords.
-- root over TCP from loopback with an empty password (socket root exists from install).
CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
CREATE USER IF NOT EXISTS 'root'@'::1' IDENTIFIED BY '';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'::1' WITH GRANT OPTION;

-- The CDC user: what a binlog reader with a consistent snapshot needs, and nothing more.
-- SELECT (snapshot rows), RELOAD (FLUSH TABLES for the snapshot cut), SHOW DATABASES,
-- REPLICATION SLAVE (binlog dump), BINLOG MONITOR (SHOW MASTER STATUS / BINARY LOGS),
-- LOCK TABLES (minimal locking snapshot).
CREATE USER IF NOT EXISTS 'keel'@'127.0.0.1' IDENTIFIED BY 'keel';
CREATE USER IF NOT EXISTS 'keel'@'::1' IDENTIFIED BY 'keel';
CREATE USER IF NOT EXISTS 'keel'@'localhost' IDENTIFIED BY 'keel';
GRANT SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, BINLOG MONITOR, LOCK TABLES ON *.* TO 'keel'@'127.0.0.1';
GRANT SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, BINLOG MONITOR, LOCK TABLES ON *.* TO 'keel'@'::1';
GRANT SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, BINLOG MONITOR, LOCK TABLES ON *.* TO 'keel'@'localhost';

-- A scratch database for tests.
CREATE DATABASE IF NOT EXISTS keel_test;
FLUSH PRIVILEGES;
