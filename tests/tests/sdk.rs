//! The plugin author's path, through the real CLI and host: `weft plugin new`,
//! edit, `weft plugin build`, `weft plugin install`, `weft workflow apply`,
//! `weft workflow trigger`, `weft run show`; then v2 beside a run still on v1.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::json;
use weft_tests::{Host, TOKEN, target_profile_dir, weft_bin};

const T: Duration = Duration::from_secs(30);

fn weft(host: &Host, args: &[&str]) -> String {
    let target = target_profile_dir().parent().expect("target/").join("scaffold");
    let out = Command::new(weft_bin())
        .args(args)
        .env("WEFT_SERVER", &host.base)
        .env("WEFT_TOKEN", TOKEN)
        // Shared by test runs, so the plugin's dependencies build once.
        .env("CARGO_TARGET_DIR", target)
        .output()
        .expect("run weft");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "weft {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn edit(file: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(file).unwrap();
    assert!(text.contains(from), "{} has no {from:?}", file.display());
    std::fs::write(file, text.replace(from, to)).unwrap();
}

/// The first column of the first data row of a printed table.
fn first_cell(table: &str) -> String {
    table.lines().nth(1).and_then(|l| l.split_whitespace().next()).expect("a table row").to_owned()
}

#[tokio::test]
async fn a_new_plugin_is_scaffolded_built_installed_used_and_upgraded() {
    let host = Host::start();
    // Inside the repository, so its rust-toolchain.toml (and wasm target) applies.
    let work = tempfile::tempdir_in(target_profile_dir()).unwrap();
    let dir = work.path().join("shout");
    let dir_arg = dir.to_str().unwrap();
    weft(&host, &["plugin", "new", "shout", "--path", dir_arg]);
    let lib = dir.join("src/lib.rs");
    edit(
        &lib,
        r#"json!({ "text": text, "length": text.chars().count() })"#,
        r#"json!({ "shout": text.to_uppercase(), "v": 1 })"#,
    );
    let built = weft(&host, &["plugin", "build", dir_arg]);
    assert!(built.contains("shout") && built.contains("0.1.0"), "{built}");
    let component = target_profile_dir().parent().unwrap().join("scaffold/wasm32-wasip2/release/shout.wasm");
    let installed = weft(&host, &["plugin", "install", component.to_str().unwrap()]);
    assert!(installed.contains("shout") && installed.contains("0.1.0"), "{installed}");
    assert!(weft(&host, &["plugin", "list"]).contains("shout"));

    let definition = work.path().join("workflow.yaml");
    std::fs::write(
        &definition,
        "name: Shout\ntrigger:\n  type: manual\nsteps:\n  - id: pause\n    type: wait\n    config:\n      duration: 1500ms\n  - id: loud\n    type: shout\n    config:\n      text: \"{{ event.text }}\"\n",
    )
    .unwrap();
    let applied = weft(&host, &["workflow", "apply", "-f", definition.to_str().unwrap(), "--activate"]);
    assert!(applied.contains("ACTIVE"), "{applied}");
    let workflow = first_cell(&applied);

    // A run that will still be waiting when v2 arrives.
    let old_run = host.trigger(&workflow, json!({ "text": "old" })).await;
    host.wait_for(&old_run, "WAITING", T).await;

    edit(&dir.join("Cargo.toml"), "version = \"0.1.0\"", "version = \"0.2.0\"");
    edit(&lib, r#""v": 1"#, r#""v": 2"#);
    weft(&host, &["plugin", "build", dir_arg]);
    weft(&host, &["plugin", "install", component.to_str().unwrap()]);
    weft(&host, &["workflow", "apply", "-f", definition.to_str().unwrap(), "--activate"]);
    // `apply` without an id creates a new workflow; activate the first again
    // so its unpinned step resolves to the newest version.
    let (status, _) = host.put(&format!("/api/workflows/{workflow}/activate"), json!({})).await;
    assert_eq!(status, 200);

    let triggered = weft(&host, &["workflow", "trigger", &workflow, "--data", r#"{"text":"new"}"#]);
    let new_run = first_cell(&triggered);
    let new = host.wait_for(&new_run, "COMPLETED", T).await;
    assert_eq!(new["context"]["steps"]["loud"], json!({ "shout": "NEW", "v": 2 }));
    let old = host.wait_for(&old_run, "COMPLETED", T).await;
    assert_eq!(
        old["context"]["steps"]["loud"],
        json!({ "shout": "OLD", "v": 1 }),
        "the run in flight finished on v1"
    );

    let shown = weft(&host, &["run", "show", &old_run]);
    assert!(shown.contains("COMPLETED") && shown.contains("shout@0.1.0") && shown.contains("OLD"), "{shown}");
}
