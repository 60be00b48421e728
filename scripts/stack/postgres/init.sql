-- Applied on every `make up` (idempotent): the event store's role and database (dev login).
SELECT 'CREATE ROLE keel LOGIN CREATEDB PASSWORD ''keel'''
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'keel') \gexec
SELECT 'CREATE DATABASE keel OWNER keel'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'keel') \gexec
-- DROP DATABASE ... WITH (FORCE) (the example's setup, test databases) must be able to end an
-- autovacuum worker still busy in the database it drops.
GRANT pg_signal_backend TO keel;
