-- Applied on every `make up` (idempotent): the event store's role and database (dev login).
SELECT 'CREATE ROLE keel LOGIN CREATEDB PASSWORD ''keel'''
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'keel') \gexec
SELECT 'CREATE DATABASE keel OWNER keel'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'keel') \gexec
