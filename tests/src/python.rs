//! Python tools for the tests (an SMTP server, componentize-py), installed
//! from `tests/requirements.txt` into a virtual environment under `target/`
//! the first time a test needs them, so `cargo test` alone sets everything up.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

fn repo_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn run(cmd: &mut Command) {
    let status = cmd.status().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(status.success(), "{cmd:?} failed: {status}");
}

/// The `bin` directory of the environment, created and filled on first use.
pub fn venv_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let venv = crate::target_profile_dir().join("..").join("python-venv");
        let bin = venv.join("bin");
        let requirements = std::fs::read_to_string(repo_dir().join("tests/requirements.txt"))
            .expect("tests/requirements.txt");
        let marker = venv.join("installed-requirements.txt");
        if std::fs::read_to_string(&marker).ok().as_deref() == Some(requirements.as_str()) {
            return bin;
        }
        let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
        let has_venv = Command::new(&python).args(["-c", "import venv, ensurepip"]).output();
        if !has_venv.is_ok_and(|o| o.status.success()) {
            crate::apt::install(
                "the tests' Python tools need venv and pip",
                &["python3-venv", "python3-pip"],
            );
        }
        run(Command::new(python).args(["-m", "venv"]).arg(&venv));
        run(Command::new(bin.join("python"))
            .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r"])
            .arg(repo_dir().join("tests/requirements.txt")));
        std::fs::write(&marker, requirements).expect("write marker");
        bin
    })
    .clone()
}

/// The environment's interpreter.
pub fn python() -> PathBuf {
    venv_bin().join("python")
}

/// A file under `tests/support`.
pub fn support_file(name: &str) -> PathBuf {
    repo_dir().join("tests/support").join(name)
}
