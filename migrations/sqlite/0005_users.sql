-- Dashboard sign-in: users with argon2 password hashes, sessions (the id is
-- stored only as its SHA-256 hash), and failed sign-ins for the lock-out delay.
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    disabled_at INTEGER
);

CREATE TABLE user_sessions (
    id_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    csrf_token TEXT NOT NULL,
    ip TEXT,
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX user_sessions_user ON user_sessions(user_id);
CREATE INDEX user_sessions_expires ON user_sessions(expires_at);

CREATE TABLE login_failures (
    id INTEGER PRIMARY KEY,
    user_name TEXT NOT NULL,
    ip TEXT NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX login_failures_user ON login_failures(user_name, at);
CREATE INDEX login_failures_ip ON login_failures(ip, at);

-- The overview counts channel failures of the last hour.
CREATE INDEX delivery_attempts_at ON delivery_attempts(at);
