//! The web UI in a real browser: runs the `node --test` suite in
//! `tests/browser/` against this build's `weft` binary, in headless Chromium
//! from Debian's `chromium` package, driven by `playwright-core` (no browser
//! download). It sets up what it needs when it is missing: the npm packages
//! of `tests/browser/package-lock.json` into `target/browser-deps`, and, as
//! root, the `chromium` package with apt-get (otherwise it stops and prints
//! the one line to run).

use std::path::{Path, PathBuf};
use std::process::Command;

use weft_tests::{target_profile_dir, weft_bin};

fn repo_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn run(cmd: &mut Command) {
    let status = cmd.status().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(status.success(), "{cmd:?} failed: {status}");
}

/// Debian's Chromium, installed with apt-get when running as root.
fn chromium() -> PathBuf {
    let path = PathBuf::from(std::env::var("WEFT_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()));
    if path.exists() {
        return path;
    }
    weft_tests::apt::install(
        &format!("the browser tests need Debian's Chromium at {}", path.display()),
        &["--no-install-recommends", "chromium"],
    );
    assert!(path.exists(), "apt-get installed chromium, but {} is still missing", path.display());
    path
}

/// `playwright-core` and `axe-core` at the versions of the committed lock
/// file, in `target/browser-deps`; reinstalled when the lock changes.
fn browser_deps() -> PathBuf {
    let node = Command::new("node").arg("--version").output();
    let version =
        node.as_ref().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned()).unwrap_or_default();
    assert!(
        version.starts_with('v')
            && version[1..].split('.').next().and_then(|m| m.parse::<u32>().ok()) >= Some(20),
        "the browser tests need Node.js 20 or newer (`node --version` said {version:?})"
    );
    let deps = target_profile_dir().join("..").join("browser-deps");
    std::fs::create_dir_all(&deps).expect("target/browser-deps");
    let source = repo_dir().join("tests/browser");
    let lock =
        std::fs::read_to_string(source.join("package-lock.json")).expect("tests/browser/package-lock.json");
    let marker = deps.join("installed-lock.json");
    if std::fs::read_to_string(&marker).ok().as_deref() == Some(lock.as_str())
        && deps.join("node_modules/playwright-core").exists()
    {
        return deps;
    }
    for file in ["package.json", "package-lock.json"] {
        std::fs::copy(source.join(file), deps.join(file)).expect("copy the browser test manifest");
    }
    run(Command::new("npm").args(["ci", "--no-audit", "--no-fund", "--loglevel=error"]).current_dir(&deps));
    std::fs::write(&marker, lock).expect("write marker");
    deps
}

fn test_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("tests/browser")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".test.mjs"))
        .collect();
    files.sort();
    files
}

#[test]
fn the_web_ui_passes_its_browser_suite() {
    let chromium = chromium();
    let deps = browser_deps();
    let repo = repo_dir();
    let files = test_files(&repo.join("tests/browser"));
    assert!(!files.is_empty(), "no tests in tests/browser");
    // Kept out of the work tree; docs/screenshots holds copies of them.
    let screenshots = target_profile_dir().join("..").join("browser-screenshots");
    std::fs::create_dir_all(&screenshots).expect("target/browser-screenshots");
    let plugins = target_profile_dir().join("..").join("plugins/wasm32-wasip2/release");
    let status = Command::new("node")
        .args(["--test", "--test-concurrency=1"])
        .args(&files)
        .current_dir(&repo)
        .env("WEFT_BIN", weft_bin())
        .env("WEFT_BROWSER_DEPS", &deps)
        .env("WEFT_CHROMIUM", &chromium)
        .env("WEFT_PLUGIN_WASM_DIR", &plugins)
        .env("WEFT_SCREENSHOT_DIR", &screenshots)
        .status()
        .expect("run node --test");
    assert!(status.success(), "the browser suite failed: {status} (its output is above)");
}
