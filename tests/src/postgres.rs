//! A throwaway PostgreSQL cluster for the tests, started once per test
//! process from the machine's PostgreSQL binaries (initdb, pg_ctl) in a
//! temporary directory, listening on a free loopback port, and stopped and
//! removed by a watchdog when the test process ends. Each host gets a
//! database of its own in it.
//!
//! `WEFT_TEST_POSTGRES_URL=postgres://user:password@host:port/db` points the
//! tests at a server of your own instead: the user needs CREATEDB, and each
//! host gets a new database `weft_test_<pid>_<n>` on it.
//!
//! PostgreSQL refuses to run as root: as root, the cluster runs as the
//! `postgres` system user (Debian's package creates it). When the binaries
//! are missing, root installs Debian's `postgresql` package; anyone else is
//! told the one line to run.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::Connection;

struct Server {
    /// A URL of the maintenance database, for CREATE DATABASE.
    admin_url: String,
    /// `scheme://user[:password]@host:port/` for the new databases.
    prefix: String,
}

static SERVER: OnceLock<Server> = OnceLock::new();
static NEXT: AtomicU32 = AtomicU32::new(0);

/// The URL of a new, empty database for one host.
pub fn fresh_database() -> String {
    let server = SERVER.get_or_init(start);
    let name = format!("weft_test_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
    let admin = server.admin_url.clone();
    let create = name.clone();
    // Its own runtime on its own thread: callers may be inside one already.
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async move {
            let mut conn = sqlx::PgConnection::connect(&admin).await.expect("connect to the test PostgreSQL");
            sqlx::raw_sql(&format!("CREATE DATABASE {create}"))
                .execute(&mut conn)
                .await
                .expect("create database");
        })
    })
    .join()
    .expect("create a test database");
    format!("{}{name}", server.prefix)
}

fn start() -> Server {
    if let Ok(url) = std::env::var("WEFT_TEST_POSTGRES_URL") {
        let prefix = match url.rfind('/') {
            Some(i) if i > "postgres://".len() => url[..=i].to_owned(),
            _ => format!("{url}/"),
        };
        return Server { admin_url: url, prefix };
    }
    let bin = binaries();
    let root = crate::apt::is_root();
    let dir = tempfile::Builder::new().prefix("weft-pg-").tempdir().expect("temp dir").keep();
    if root {
        run(Command::new("chown").arg("postgres").arg(&dir), "chown the cluster directory to postgres");
    }
    let data = dir.join("data");
    let initdb = format!(
        "{} -D {} -A trust -U postgres --no-sync -E UTF8 --locale=C.UTF-8",
        bin.join("initdb").display(),
        data.display()
    );
    run(&mut as_postgres(root, &initdb), "initdb");
    let port = free_port();
    // Test settings: no fsync (a test cluster is thrown away), room for
    // the connection pools of many hosts.
    let options = format!(
        "-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={} -c fsync=off \
         -c synchronous_commit=off -c full_page_writes=off -c max_connections=400 -c shared_buffers=64MB",
        dir.display()
    );
    let start = format!(
        "{} -D {} -l {} -w -o '{options}' start",
        bin.join("pg_ctl").display(),
        data.display(),
        dir.join("log").display()
    );
    run(&mut as_postgres(root, &start), "pg_ctl start");
    watchdog(root, &bin, &dir);
    let prefix = format!("postgres://postgres@127.0.0.1:{port}/");
    Server { admin_url: format!("{prefix}postgres"), prefix }
}

/// Stops the cluster and removes its directory once this process is gone.
fn watchdog(root: bool, bin: &Path, dir: &Path) {
    let stop =
        format!("{} -D {} -m immediate stop", bin.join("pg_ctl").display(), dir.join("data").display());
    let stop = if root { format!("su postgres -s /bin/sh -c \"{stop}\"") } else { stop };
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {stop} >/dev/null 2>&1; rm -rf {dir}",
        pid = std::process::id(),
        dir = dir.display()
    );
    // Backgrounded by a shell that exits at once: the watchdog outlives this
    // process without being its child.
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!("setsid sh -c '{}' >/dev/null 2>&1 </dev/null &", script.replace('\'', "'\\''")))
        .status()
        .expect("start the cluster's watchdog");
    assert!(status.success(), "the cluster's watchdog did not start");
}

fn as_postgres(root: bool, command: &str) -> Command {
    if root {
        let mut cmd = Command::new("su");
        cmd.args(["postgres", "-s", "/bin/sh", "-c", command]);
        cmd
    } else {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", command]);
        cmd
    }
}

fn run(cmd: &mut Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The directory of initdb and pg_ctl; installs them as root when missing.
fn binaries() -> PathBuf {
    if let Some(dir) = find_binaries() {
        return dir;
    }
    crate::apt::install("PostgreSQL is not installed and the PostgreSQL tests need it", &["postgresql"]);
    find_binaries().expect("initdb and pg_ctl after installing postgresql")
}

fn find_binaries() -> Option<PathBuf> {
    let has = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if has(&dir) {
            return Some(dir);
        }
    }
    // Debian keeps them per major version, off the PATH.
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, dir)| has(dir))
        .collect();
    versions.sort();
    versions.pop().map(|(_, dir)| dir)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}
