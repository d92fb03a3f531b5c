//! The rendered `fetch-code` init container of an archive source, run for
//! real by `sh` against a local HTTP server: a download whose SHA-256
//! matches is extracted, one that differs is refused naming the URL, and a
//! missing archive fails naming the URL. Needs `sh`, `tar`, `sha256sum` and
//! `wget` or `curl`, as the init image has.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};
use std::thread;

use crate::render_support;

use render_support::render_trainee;

/// Serves `body` at `/code.tar.gz` (404 elsewhere) on a local port until the
/// test process ends; returns the server's base URL.
fn serve(body: Vec<u8>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a local port");
    let base = format!("http://{}", listener.local_addr().unwrap());
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(&stream);
            let mut request = String::new();
            if reader.read_line(&mut request).is_err() {
                continue;
            }
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let found = request.starts_with("GET /code.tar.gz ");
            let (status, payload): (&str, &[u8]) = if found {
                ("200 OK", &body)
            } else {
                ("404 Not Found", b"not found")
            };
            let mut out = &stream;
            let _ = write!(
                out,
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                payload.len()
            );
            let _ = out.write_all(payload);
        }
    });
    base
}

/// A `.tar.gz` holding `project/train.py`, and its SHA-256.
fn tarball(dir: &Path) -> (Vec<u8>, String) {
    let src = dir.join("src/project");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("train.py"), "print('training')\n").unwrap();
    let archive = dir.join("code.tar.gz");
    let status = Command::new("tar")
        .arg("-czf")
        .arg(&archive)
        .arg("-C")
        .arg(dir.join("src"))
        .arg("project")
        .status()
        .expect("tar runs");
    assert!(status.success());
    let out = Command::new("sha256sum")
        .arg(&archive)
        .output()
        .expect("sha256sum runs");
    let sum = String::from_utf8(out.stdout).unwrap();
    let sum = sum.split_whitespace().next().unwrap().to_owned();
    (fs::read(&archive).unwrap(), sum)
}

/// The command of the `fetch-code` init container rendered for `code`.
fn init_command(code: &str) -> Vec<String> {
    let manifests = render_trainee(format!(
        "[train]\nimage = \"python:3.12-slim\"\ncode = {code}\ncommand = [\"python\", \"train.py\"]\n"
    ));
    let job = manifests.iter().find(|m| m.kind() == "Job").expect("a Job");
    let init = &job.object["spec"]["template"]["spec"]["initContainers"][0];
    assert_eq!(init["name"], "fetch-code");
    serde_json::from_value(init["command"].clone()).expect("a command")
}

/// Runs `command` with its destination (the last argument) moved to `dest`.
fn run(mut command: Vec<String>, dest: &Path) -> Output {
    *command.last_mut().unwrap() = dest.to_string_lossy().into_owned();
    Command::new(&command[0])
        .args(&command[1..])
        .output()
        .expect("sh runs")
}

#[test]
fn an_archive_with_the_expected_checksum_is_extracted() {
    let tmp = tempfile::tempdir().unwrap();
    let (body, sum) = tarball(tmp.path());
    let url = format!("{}/code.tar.gz", serve(body));
    let dest = tmp.path().join("workspace/code");
    fs::create_dir_all(dest.parent().unwrap()).unwrap();
    let out = run(
        init_command(&format!("{{ archive = \"{url}\", sha256 = \"{sum}\" }}")),
        &dest,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let train = fs::read_to_string(dest.join("project/train.py")).unwrap();
    assert_eq!(train, "print('training')\n");
    assert!(!tmp.path().join("workspace/code.tar.gz").exists());
}

#[test]
fn an_archive_with_another_checksum_is_refused_naming_the_url() {
    let tmp = tempfile::tempdir().unwrap();
    let (body, _) = tarball(tmp.path());
    let url = format!("{}/code.tar.gz", serve(body));
    let dest = tmp.path().join("workspace/code");
    fs::create_dir_all(dest.parent().unwrap()).unwrap();
    let wrong = "0".repeat(64);
    let out = run(
        init_command(&format!("{{ archive = \"{url}\", sha256 = \"{wrong}\" }}")),
        &dest,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("{url} has SHA-256 ")) && stderr.contains(&wrong),
        "{stderr}"
    );
    assert!(!dest.exists(), "nothing is extracted");
}

#[test]
fn an_archive_without_a_checksum_is_extracted_unchecked() {
    let tmp = tempfile::tempdir().unwrap();
    let (body, _) = tarball(tmp.path());
    let url = format!("{}/code.tar.gz", serve(body));
    let dest = tmp.path().join("workspace/code");
    fs::create_dir_all(dest.parent().unwrap()).unwrap();
    let out = run(init_command(&format!("{{ archive = \"{url}\" }}")), &dest);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dest.join("project/train.py").is_file());
}

#[test]
fn a_missing_archive_fails_naming_the_url() {
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("{}/missing.tar.gz", serve(Vec::new()));
    let dest = tmp.path().join("workspace/code");
    fs::create_dir_all(dest.parent().unwrap()).unwrap();
    let out = run(init_command(&format!("{{ archive = \"{url}\" }}")), &dest);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("modelctl: cannot download {url}")),
        "{stderr}"
    );
    assert!(!dest.exists());
}
