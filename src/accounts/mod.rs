//! Dashboard accounts: users with argon2 password hashes, signing in with its
//! lock-out, and the sessions a sign-in opens. The dashboard (`web/`) draws the
//! pages and carries the session in a cookie; everything stored is here.

pub mod sessions;
pub mod signin;
pub mod users;
