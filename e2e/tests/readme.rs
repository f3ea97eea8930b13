//! The README's first-run walkthrough, run literally: its commands are
//! read out of README.md (so the README and this test cannot drift apart)
//! and run by bash from a fresh directory, against `nubo up` in its default
//! configuration — state in the relative `./.nubo`, every service on its
//! SPEC port, the development keys — with the AWS CLI from PyPI, curl and
//! python3, as a newcomer would type them.
//!
//! It binds nubo's default ports. Where the test may (root, or a user
//! namespace), it runs in a network namespace of its own, whose loopback
//! holds nothing else, so a program on the host that listens on 8080 or
//! 9000 cannot get in its way; elsewhere it shares the host's loopback and
//! fails if another program holds one of those ports.

use std::{path::Path, process::Command};

use nubo_e2e::{Process, path_with_python_tools, try_wait_healthy};

/// The command the README gives for running nubo; the test runs the binary
/// the suite built in its place.
const RUN_NUBO: &str = "cargo run --release --bin nubo -- up";

/// The fenced `sh` blocks of the README's "Five minutes with nubo" section.
fn walkthrough() -> Vec<String> {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md")).unwrap();
    let start = readme.find("## Five minutes with nubo").expect("the README has its walkthrough");
    let section = &readme[start + 3..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    let mut blocks = Vec::new();
    let mut lines = section.lines();
    while let Some(line) = lines.next() {
        if line.trim() == "```sh" {
            let block: Vec<&str> = lines.by_ref().take_while(|line| line.trim() != "```").collect();
            blocks.push(block.join("\n"));
        }
    }
    blocks
}

/// The output a command's trailing `# ...` comment promises.
fn promised_output(block: &str) -> Option<(String, String)> {
    block.lines().find_map(|line| {
        let (command, comment) = line.split_once("  #")?;
        Some((command.trim().to_owned(), comment.trim().to_owned()))
    })
}

/// Starts `nubo up` in `dir` exactly as the README does, with no settings.
/// Its default gRPC ports (50051-50057) lie in Linux's ephemeral range, so a
/// client socket of another process may hold one for a moment: a start
/// that fails on a port in use is tried again.
async fn start_nubo(dir: &Path) -> Process {
    let mut last_log = String::new();
    for attempt in 0..5 {
        let log = dir.join(format!("nubo-{attempt}.log"));
        let mut process = Process::spawn_in(dir, &["up"], &[], log);
        let mut failed = None;
        for port in [4566, 9001, 8000, 8080] {
            if let Err(log) = try_wait_healthy(&mut process, &format!("http://127.0.0.1:{port}")).await {
                failed = Some(log);
                break;
            }
        }
        match failed {
            None => return process,
            Some(log) if log.contains("Address already in use") => {
                last_log = log;
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
            Some(log) => panic!("nubo up did not start\n{log}"),
        }
    }
    panic!("nubo up could not bind its default ports in five attempts\n{last_log}");
}

fn bash(dir: &Path, home: &Path, script: &str) -> std::process::Output {
    Command::new("bash")
        .args(["-euo", "pipefail", "-c", script])
        .current_dir(dir)
        .env_clear()
        .env("PATH", path_with_python_tools())
        .env("HOME", home)
        .env("LANG", "C.UTF-8")
        .output()
        .expect("bash runs")
}

/// Moves this thread, and so every thread and process it starts, into a
/// network namespace of its own with its loopback up. `Err` says why not.
fn private_loopback() -> Result<(), String> {
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).map_err(|error| format!("unshare: {error}"))?;
    for ip in ["ip", "/usr/sbin/ip", "/sbin/ip"] {
        if let Ok(status) = Command::new(ip).args(["link", "set", "lo", "up"]).status() {
            return if status.success() { Ok(()) } else { Err(format!("`ip link set lo up` exited with {status}")) };
        }
    }
    Err("`ip` (iproute2) is not installed".to_owned())
}

#[test]
fn the_readme_walkthrough_works_as_written() {
    // Before the runtime starts, so its threads are made in the namespace.
    if let Err(why) = private_loopback() {
        eprintln!("running on the host's loopback ({why})");
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(walkthrough_in_a_fresh_directory());
}

async fn walkthrough_in_a_fresh_directory() {
    let blocks = walkthrough();
    assert!(blocks.len() >= 4, "the walkthrough has its blocks: {blocks:#?}");
    assert_eq!(blocks[0].trim(), RUN_NUBO, "the walkthrough starts nubo first");
    let (curl, expected) = blocks.iter().find_map(|block| promised_output(block)).expect("a command with its output");
    let promised: Vec<(String, String)> = blocks.iter().filter_map(|block| promised_output(block)).collect();

    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let mut nubo = start_nubo(dir.path()).await;
    // Everything after starting nubo, in order, as one session of a shell;
    // the endpoint is kept for the second half.
    let script = format!("{}\necho \"ENDPOINT=$ENDPOINT\" > endpoint.env\n", blocks[1..].join("\n"));
    let output = bash(dir.path(), home.path(), &script);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the walkthrough failed\nstdout:\n{stdout}\nstderr:\n{stderr}\nnubo:\n{}",
        nubo.log()
    );
    for (command, output) in &promised {
        assert!(stdout.contains(output), "`{command}` did not print `{output}`\nstdout:\n{stdout}\nstderr:\n{stderr}");
    }
    assert!(
        stdout.contains("START RequestId") && stdout.contains("REPORT RequestId"),
        "the log tail is shown\n{stdout}"
    );
    assert!(dir.path().join(".nubo").is_dir(), "state lives in ./.nubo");
    // The default output is the banner and nubo's own lines, no framework chatter.
    let log = nubo.log();
    assert!(log.contains("nubo is up; state in "), "{log}");
    for chatter in ["actix", "starting service", "Starting", "accept thread", "h2::", "hyper::"] {
        assert!(!log.contains(chatter), "`{chatter}` in nubo up's output:\n{log}");
    }

    // "Stop nubo with Ctrl-C, start it again: the function and the API are
    // still there."
    let status = nubo.interrupt();
    assert!(status.success(), "nubo exited with {status} on Ctrl-C\n{}", nubo.log());
    let _nubo = start_nubo(dir.path()).await;
    let exports: String = blocks[1..]
        .iter()
        .flat_map(|block| block.lines())
        .filter(|line| line.starts_with("export "))
        .collect::<Vec<_>>()
        .join("\n");
    let again = bash(dir.path(), home.path(), &format!("{exports}\nsource endpoint.env\n{curl}\n"));
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(
        again.status.success() && stdout.contains(&expected),
        "after a restart: {stdout}\n{}",
        String::from_utf8_lossy(&again.stderr)
    );
}
