//! Integration tests of `cairn-iam` through its public API, one module per concern.

mod policy;
