//! The datadir and the node's secrets, through the real `tokennet` binary:
//!
//! * one node per `--datadir`: a second one is refused (exit 1) naming the datadir and
//!   the pid of the first, on the embedded chain and on anvil; the lock of a node killed
//!   with SIGKILL does not block a restart;
//! * the datadir is created `0700` and the database files `0600`, even under umask 000;
//! * key, keystore, password and token files that others can read are warned about, and
//!   an API token shorter than 16 bytes is refused (exit 2);
//! * an RPC URL's credentials (userinfo, API key in the path or query) appear neither in
//!   the start banner nor in the "cannot reach" and deploy errors;
//! * the refusal of another chain's database names the chain once.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use alloy::signers::local::PrivateKeySigner;
use common::anvil::AnvilNet;
use common::process::{free_port, http, NodeProcess};
use tokennet::node::datadir::LOCK_FILE_NAME;
use tokennet::node::store::{Store, STATE_FILE_NAME};

/// An Infura-style project key, put in the path of the RPC URL.
const PATH_KEY: &str = "9aa3d95b3bc440fa88ea12eaa4456161";
/// An API key put in the query of the RPC URL.
const QUERY_KEY: &str = "Xy7kP2qLm9ZrT4vWn8sB1cD3";
/// The password of the URL's userinfo.
const PASSWORD: &str = "SECRETPASSWORD";

/// How long a node refused at start may take to exit.
const EXIT_LIMIT: Duration = Duration::from_secs(60);

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn write_with_mode(path: &Path, text: &str, mode: u32) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Runs the binary with `args` (and a free `--api-address`) until it exits on its own,
/// within [`EXIT_LIMIT`] (killed and failed otherwise).
fn run_to_exit(args: &[OsString]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tokennet"))
        .args(args)
        .arg("--api-address")
        .arg(format!("127.0.0.1:{}", free_port()))
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawning the tokennet binary");
    let deadline = std::time::Instant::now() + EXIT_LIMIT;
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let output = child.wait_with_output().unwrap();
            panic!(
                "tokennet {args:?} did not exit within {EXIT_LIMIT:?}:\n{}\n{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn args(list: &[&dyn AsRef<std::ffi::OsStr>]) -> Vec<OsString> {
    list.iter().map(|a| a.as_ref().to_os_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_node_on_an_embedded_datadir_is_refused_naming_the_first() {
    let files = tempfile::tempdir().unwrap();
    let datadir = files.path().join("datadir");
    let node_args = args(&[&"node", &"--datadir", &datadir]);
    let mut first = NodeProcess::start("first node", &node_args, &[]).await;

    let second = run_to_exit(&node_args);
    let output = text(&second);
    assert_eq!(second.status.code(), Some(1), "{output}");
    assert!(
        output.contains(&format!("data directory {} is in use", datadir.display()))
            && output.contains(&format!("pid {}", first.pid())),
        "the refusal names the datadir and the first node's pid:\n{output}"
    );
    // The first node is untouched by the attempt.
    let (status, _) = first.call("GET", "/api/v1/status", None).await;
    assert_eq!(status, 200);

    // Killed with SIGKILL, the first node leaves its lock file, but not its lock: the next
    // start on this datadir is refused only because an embedded chain is new at every
    // start, and says so naming the chain once.
    let killed_pid = first.pid();
    first.kill();
    let lock_file = datadir.join(LOCK_FILE_NAME);
    assert_eq!(
        std::fs::read_to_string(&lock_file).unwrap().trim(),
        killed_pid.to_string(),
        "the lock file still names the killed node"
    );
    let restart = run_to_exit(&node_args);
    let output = text(&restart);
    assert_eq!(restart.status.code(), Some(1), "{output}");
    assert!(!output.contains("in use"), "no stale lock:\n{output}");
    assert!(
        output.contains("holds the state of simulated chain, seed 0, instance")
            && !output.contains("chain simulated chain"),
        "the other chain is named once:\n{output}"
    );
}

#[test]
fn another_chains_database_is_refused_naming_the_chain_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let account = tokennet::types::Address::repeat_byte(7);
    let ours = "chain 31337 genesis 0xaa registry 0xbb";
    store.bind(account, ours).unwrap();
    let error = store
        .bind(account, "chain 1 genesis 0xcc registry 0xbb")
        .unwrap_err()
        .to_string();
    assert!(
        error.contains(&format!(
            "holds the state of {ours}, not chain 1 genesis 0xcc registry 0xbb"
        )) && !error.contains("chain chain"),
        "{error}"
    );
    let other = tokennet::types::Address::repeat_byte(8);
    let error = store.bind(other, ours).unwrap_err().to_string();
    assert!(
        error.contains(&format!(
            "holds the state of account {}",
            account.to_checksum(None)
        )),
        "{error}"
    );
}

/// The binary under `umask 000`, on the embedded chain with `--datadir`, until its API
/// answers ready; killed when dropped.
struct UnmaskedNode(std::process::Child);

impl Drop for UnmaskedNode {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl UnmaskedNode {
    /// Its output goes to `log` (stdout) and `log` with the extension `err` (stderr).
    async fn start(datadir: &Path, log: &Path) -> (Self, String) {
        let port = free_port();
        let log = log.to_path_buf();
        let child = Command::new("sh")
            .arg("-c")
            .arg(r#"umask 000 && exec "$0" "$@""#)
            .arg(env!("CARGO_BIN_EXE_tokennet"))
            .arg("node")
            .arg("--datadir")
            .arg(datadir)
            .arg("--api-address")
            .arg(format!("127.0.0.1:{port}"))
            .env("NO_COLOR", "1")
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(log.with_extension("err")).unwrap())
            .spawn()
            .unwrap();
        let mut node = Self(child);
        let base = format!("http://127.0.0.1:{port}");
        let deadline = tokio::time::Instant::now() + EXIT_LIMIT;
        loop {
            if let Ok((200, body)) = http(&base, "GET", "/api/v1/status", None).await {
                if body["status"] == "ready" {
                    break;
                }
            }
            let stderr = std::fs::read_to_string(log.with_extension("err")).unwrap();
            assert!(
                node.0.try_wait().unwrap().is_none(),
                "the node exited before it was ready:\n{stderr}"
            );
            assert!(
                tokio::time::Instant::now() < deadline,
                "the node was not ready within {EXIT_LIMIT:?}:\n{stderr}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let stderr = std::fs::read_to_string(log.with_extension("err")).unwrap();
        (node, stderr)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_datadir_and_the_database_are_private_whatever_the_umask() {
    let files = tempfile::tempdir().unwrap();
    let fresh = files.path().join("parent").join("fresh");
    let (node, _) = UnmaskedNode::start(&fresh, &files.path().join("fresh.log")).await;
    assert_eq!(mode(&fresh), 0o700, "a new datadir");
    for name in [
        STATE_FILE_NAME.to_string(),
        format!("{STATE_FILE_NAME}-wal"),
        format!("{STATE_FILE_NAME}-shm"),
        LOCK_FILE_NAME.to_string(),
    ] {
        assert_eq!(mode(&fresh.join(&name)), 0o600, "{name} in a new datadir");
    }
    drop(node);

    // A datadir that exists open to all: it is warned about and left as it is (it may be
    // shared with other programs), and the files that are ours are made private.
    let open = files.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    write_with_mode(&open.join(STATE_FILE_NAME), "", 0o666);
    let (node, stderr) = UnmaskedNode::start(&open, &files.path().join("open.log")).await;
    assert!(
        stderr.contains(&format!(
            "the data directory {} has mode 0777",
            open.display()
        )) && stderr.contains(&format!("chmod 700 {}", open.display())),
        "{stderr}"
    );
    assert_eq!(mode(&open), 0o777);
    for name in [
        STATE_FILE_NAME.to_string(),
        format!("{STATE_FILE_NAME}-wal"),
        format!("{STATE_FILE_NAME}-shm"),
    ] {
        assert_eq!(mode(&open.join(&name)), 0o600, "{name} in an open datadir");
    }
    drop(node);
}

/// A node command on an RPC endpoint that answers nothing (a closed local port, with
/// credentials in its URL).
fn unreachable_endpoint() -> (String, u16) {
    let port = free_port();
    (
        format!("http://user:{PASSWORD}@127.0.0.1:{port}/v3/{PATH_KEY}?apikey={QUERY_KEY}"),
        port,
    )
}

fn assert_no_secret(output: &str) {
    for secret in [PASSWORD, PATH_KEY, QUERY_KEY] {
        assert!(!output.contains(secret), "{secret} shown:\n{output}");
    }
}

#[test]
fn secret_files_that_others_can_read_are_warned_about() {
    let files = tempfile::tempdir().unwrap();
    let signer = PrivateKeySigner::random();
    let key = files.path().join("key");
    write_with_mode(
        &key,
        &format!("0x{}", alloy::hex::encode(signer.to_bytes())),
        0o666,
    );
    let token = files.path().join("token");
    write_with_mode(&token, "0123456789abcdef0123456789abcdef\n", 0o644);
    let (endpoint, _) = unreachable_endpoint();
    let registry = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
    let output = run_to_exit(&args(&[
        &"node",
        &"--eth-rpc-endpoint",
        &endpoint,
        &"--private-key-file",
        &key,
        &"--tokennetwork-registry-contract-address",
        &registry,
        &"--api-token-file",
        &token,
    ]));
    let shown = text(&output);
    assert_mode_warnings(&shown, &[(&key, "0666"), (&token, "0644")]);
    assert!(
        shown.contains("WARN"),
        "the key's warning is a log line:\n{shown}"
    );

    // A keystore and its password file, both open to others; and a private key file
    // kept private draws no warning.
    let keystores = files.path().join("keystores");
    std::fs::create_dir(&keystores).unwrap();
    let (signer, _) = PrivateKeySigner::new_keystore(
        &keystores,
        &mut rand08::thread_rng(),
        "correct horse",
        Some("key.json"),
    )
    .unwrap();
    let keystore = keystores.join("key.json");
    std::fs::set_permissions(&keystore, std::fs::Permissions::from_mode(0o644)).unwrap();
    let password = files.path().join("password");
    write_with_mode(&password, "correct horse\n", 0o666);
    let output = run_to_exit(&args(&[
        &"node",
        &"--eth-rpc-endpoint",
        &endpoint,
        &"--keystore-path",
        &keystores,
        &"--address",
        &signer.address().to_string(),
        &"--password-file",
        &password,
        &"--tokennetwork-registry-contract-address",
        &registry,
    ]));
    let shown = text(&output);
    assert_mode_warnings(&shown, &[(&keystore, "0644"), (&password, "0666")]);
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let output = run_to_exit(&args(&[
        &"node",
        &"--eth-rpc-endpoint",
        &endpoint,
        &"--private-key-file",
        &key,
        &"--tokennetwork-registry-contract-address",
        &registry,
    ]));
    let shown = text(&output);
    assert!(!shown.contains("chmod"), "no warning for 0600:\n{shown}");
}

#[test]
fn an_api_token_shorter_than_16_bytes_is_refused_naming_the_flag() {
    let files = tempfile::tempdir().unwrap();
    let (endpoint, _) = unreachable_endpoint();
    for short in ["x", "0123456789abcde"] {
        let token = files.path().join("token");
        write_with_mode(&token, &format!("{short}\n"), 0o600);
        // Without the refusal, the run would go on to fail for the missing key (exit 1).
        let output = run_to_exit(&args(&[
            &"node",
            &"--eth-rpc-endpoint",
            &endpoint,
            &"--api-token-file",
            &token,
        ]));
        let shown = text(&output);
        assert_eq!(output.status.code(), Some(2), "{shown}");
        assert!(
            shown.contains("--api-token-file")
                && shown.contains("at least 16")
                && shown.contains(&token.display().to_string()),
            "{shown}"
        );
    }
}

#[test]
fn an_unreachable_endpoint_is_named_without_its_credentials() {
    let files = tempfile::tempdir().unwrap();
    let key = files.path().join("key");
    write_with_mode(
        &key,
        &format!(
            "0x{}",
            alloy::hex::encode(PrivateKeySigner::random().to_bytes())
        ),
        0o600,
    );
    let (endpoint, port) = unreachable_endpoint();
    let output = run_to_exit(&args(&[
        &"node",
        &"--eth-rpc-endpoint",
        &endpoint,
        &"--private-key-file",
        &key,
        &"--tokennetwork-registry-contract-address",
        &"0x5FbDB2315678afecb367f032d93F642f64180aa3",
    ]));
    let shown = text(&output);
    assert_eq!(output.status.code(), Some(1), "{shown}");
    assert!(
        shown.contains(&format!(
            "cannot reach http://***@127.0.0.1:{port}/v3/***?apikey=***"
        )),
        "{shown}"
    );
    assert_no_secret(&shown);

    let output = Command::new(env!("CARGO_BIN_EXE_tokennet"))
        .args(["deploy", "--eth-rpc-endpoint", &endpoint])
        .arg("--private-key-file")
        .arg(&key)
        .arg("--out")
        .arg(files.path().join("deployment.json"))
        .output()
        .unwrap();
    let shown = text(&output);
    assert_eq!(output.status.code(), Some(1), "{shown}");
    assert!(
        shown.contains(&format!("deploying through http://***@127.0.0.1:{port}/")),
        "{shown}"
    );
    assert_no_secret(&shown);

    let output = run_to_exit(&args(&[
        &"node",
        &"--eth-rpc-endpoint",
        &format!("http://user:{PASSWORD}@[not a host/v3/{PATH_KEY}"),
        &"--private-key-file",
        &key,
        &"--tokennetwork-registry-contract-address",
        &"0x5FbDB2315678afecb367f032d93F642f64180aa3",
    ]));
    let shown = text(&output);
    assert_eq!(output.status.code(), Some(1), "{shown}");
    assert!(shown.contains("invalid RPC URL"), "{shown}");
    assert_no_secret(&shown);
}

/// A JSON-RPC endpoint on any path that forwards to anvil's `/` (anvil answers 404 on
/// any other path, and real providers put their key in it). Stops with the test's
/// runtime.
async fn forwarder(target: String) -> u16 {
    use warp::Filter;
    let client = reqwest::Client::new();
    let route = warp::post()
        .and(warp::path::tail())
        .and(warp::body::json())
        .then(move |_: warp::path::Tail, body: serde_json::Value| {
            let (client, target) = (client.clone(), target.clone());
            async move {
                let answer = match client.post(&target).json(&body).send().await {
                    Ok(response) => response
                        .json::<serde_json::Value>()
                        .await
                        .unwrap_or_else(|e| serde_json::json!({ "error": e.to_string() })),
                    Err(e) => serde_json::json!({ "error": e.to_string() }),
                };
                warp::reply::json(&answer)
            }
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(warp::serve(route).incoming(listener).run());
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_anvil_one_node_per_datadir_a_killed_nodes_lock_does_not_block_and_no_secret_is_shown() {
    let net = AnvilNet::start(0.5, 40).await;
    let port = forwarder(net.anvil.endpoint()).await;
    let endpoint =
        format!("http://user:{PASSWORD}@127.0.0.1:{port}/v3/{PATH_KEY}?apikey={QUERY_KEY}");
    let files = tempfile::tempdir().unwrap();
    let key = files.path().join("key");
    write_with_mode(
        &key,
        &format!("0x{}", alloy::hex::encode(net.signer(1).to_bytes())),
        0o600,
    );
    let deployment = files.path().join("deployment.json");
    std::fs::write(&deployment, serde_json::to_string(&net.deployment).unwrap()).unwrap();
    let datadir: PathBuf = files.path().join("datadir");
    let node_args = args(&[
        &"node",
        &"--eth-rpc-endpoint",
        &endpoint,
        &"--private-key-file",
        &key,
        &"--deployment",
        &deployment,
        &"--datadir",
        &datadir,
        &"--confirmation-blocks",
        &"0",
    ]);
    let mut first = NodeProcess::start("first node", &node_args, &[]).await;
    let banner = first.output();
    assert!(
        banner.contains(&format!(
            "tokennet node on http://***@127.0.0.1:{port}/v3/***?apikey=***"
        )),
        "the banner names the endpoint without its secrets:\n{banner}"
    );
    assert_no_secret(&banner);

    let second = tokio::task::spawn_blocking({
        let node_args = node_args.clone();
        move || run_to_exit(&node_args)
    })
    .await
    .unwrap();
    let output = text(&second);
    assert_eq!(second.status.code(), Some(1), "{output}");
    assert!(
        output.contains(&format!("data directory {} is in use", datadir.display()))
            && output.contains(&format!("pid {}", first.pid())),
        "the refusal names the datadir and the first node's pid:\n{output}"
    );
    assert_no_secret(&output);

    first.kill();
    assert!(
        datadir.join(LOCK_FILE_NAME).exists(),
        "SIGKILL left the lock file"
    );
    let restarted = NodeProcess::start("after SIGKILL", &node_args, &[]).await;
    let (status, body) = restarted.call("GET", "/api/v1/status", None).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ready")));
    assert_no_secret(&restarted.output());
}

/// Asserts that `shown` warns about each file with its mode and the `chmod 600` that fixes it.
fn assert_mode_warnings(shown: &str, files: &[(&std::path::PathBuf, &str)]) {
    for (file, file_mode) in files {
        assert!(
            shown.contains(&format!("{} has mode {file_mode}", file.display()))
                && shown.contains(&format!("chmod 600 {}", file.display())),
            "a warning for {}:\n{shown}",
            file.display()
        );
    }
}
