//! Debian packages the tests need: installed with apt-get when the tests run
//! as root, otherwise named in the one line to run.

use std::process::Command;

/// Whether the tests run as root.
pub fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Installs `packages` (apt-get arguments) as root; otherwise stops with
/// `why` and the line to run.
pub fn install(why: &str, packages: &[&str]) {
    let names: Vec<&str> = packages.iter().copied().filter(|p| !p.starts_with('-')).collect();
    assert!(is_root(), "{why}; install it with:\n\n    sudo apt-get install -y {}\n", names.join(" "));
    eprintln!("{why}: installing Debian's {}", names.join(" "));
    for args in [&["update", "-q"][..], &[&["install", "-y", "-q"][..], packages].concat()] {
        let out = Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .output()
            .unwrap_or_else(|e| panic!("apt-get: {e}"));
        assert!(
            out.status.success(),
            "apt-get {} failed ({}):\n{}\n{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
