//! The client commands end to end: the real `cairn` binary run with arguments, as a
//! user would, against real servers. Results are read from `--json` output.

mod admin;
mod apply;
mod changes;
mod encrypt;
mod event;
mod ilm;
mod mirror;
mod objects;
mod proxy;
mod quota;
mod safety;

use crate::harness::{ACCESS_KEY, SECRET_KEY, Server};
use serde_json::Value;
use std::process::{Command, Stdio};

/// A CLI user with their own configuration folder.
pub struct Cli {
    /// The configuration folder (aliases); removed on drop.
    pub home: tempfile::TempDir,
}

/// One finished command.
pub struct Run {
    /// The exit code.
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The stdout lines parsed as JSON objects.
    pub fn json(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
            .collect()
    }

    /// Asserts success and returns the JSON lines.
    pub fn ok(&self) -> Vec<Value> {
        assert_eq!(self.code, 0, "command failed: stdout {}\nstderr {}", self.stdout, self.stderr);
        self.json()
    }
}

impl Cli {
    /// A user with an empty configuration.
    pub fn new() -> Cli {
        Cli { home: tempfile::tempdir().expect("config dir") }
    }

    /// A user with alias `name` for `server` as root.
    pub fn with_alias(name: &str, server: &Server) -> Cli {
        let cli = Cli::new();
        cli.alias(name, &server.endpoint, ACCESS_KEY, SECRET_KEY);
        cli
    }

    /// Adds an alias.
    pub fn alias(&self, name: &str, endpoint: &str, access: &str, secret: &str) {
        self.run(&["alias", "set", name, endpoint, access, secret]).ok();
    }

    /// Runs `cairn --json --config-dir HOME args...`.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_in(None, args)
    }

    /// `cairn --json --config-dir HOME args...` with stdin empty and output piped, to
    /// run or start (stdio can be changed before).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_cairn"));
        command.arg("--json").arg("--config-dir").arg(self.home.path()).args(args);
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        command
    }

    /// Runs the command in `dir` (for relative local paths).
    pub fn run_in(&self, dir: Option<&std::path::Path>, args: &[&str]) -> Run {
        let mut command = self.command(args);
        if let Some(dir) = dir {
            command.current_dir(dir);
        }
        let output = command.output().expect("run cairn");
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// Writes `body` to `root/path`, making the folders on the way.
pub fn write(root: &std::path::Path, path: &str, body: &[u8]) {
    let file = root.join(path);
    std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
    std::fs::write(file, body).expect("write");
}
