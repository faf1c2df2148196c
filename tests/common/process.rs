//! The node as a real process: `tokennet` spawned from the binary cargo built for the
//! tests, on a free local port, its output kept line by line (and printed when the test
//! fails), killed with SIGKILL on demand and when dropped.

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

/// How long a node may take to start and catch up with the chain.
const START_LIMIT: Duration = Duration::from_secs(60);

/// A free port on 127.0.0.1, as the system hands it out (the listener is closed again,
/// so another process could take it first: [`NodeProcess::start`] retries then).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("binding a free local port")
}

/// A running `tokennet` process.
pub struct NodeProcess {
    /// What the test calls it in messages ("first run", "after the restart").
    label: String,
    child: Child,
    /// `http://127.0.0.1:<port>`, without a trailing slash.
    base: String,
    /// Every line of its stdout and stderr, in the order read.
    output: Arc<Mutex<Vec<String>>>,
    exited: Option<ExitStatus>,
}

impl NodeProcess {
    /// Starts the tokennet binary with `args` (everything but `--api-address`, which is a
    /// free port) and `envs`, and waits until `GET /api/v1/status` says ready. A port
    /// taken in the meantime by someone else is retried on another one.
    pub async fn start(label: &str, args: &[OsString], envs: &[(&str, &str)]) -> Self {
        Self::start_limited(label, args, envs, None).await
    }

    /// [`NodeProcess::start`], with the soft and hard limit on open file descriptors
    /// (`ulimit -n`) set to `descriptors` for the node when given.
    pub async fn start_limited(
        label: &str,
        args: &[OsString],
        envs: &[(&str, &str)],
        descriptors: Option<u64>,
    ) -> Self {
        let mut attempt = 1;
        loop {
            let mut node = Self::spawn(label, args, envs, descriptors);
            match node.wait_ready().await {
                Ok(()) => return node,
                Err(output) if attempt < 3 && output.contains("cannot listen on") => {
                    attempt += 1;
                }
                Err(output) => panic!("{label}: the node did not become ready:\n{output}"),
            }
        }
    }

    fn spawn(
        label: &str,
        args: &[OsString],
        envs: &[(&str, &str)],
        descriptors: Option<u64>,
    ) -> Self {
        let port = free_port();
        let binary = env!("CARGO_BIN_EXE_tokennet");
        let mut command = match descriptors {
            // The shell sets the limit and then becomes the node (`exec`), so that the
            // process id, signals and SIGKILL on drop are the node's.
            Some(limit) => {
                let mut shell = Command::new("sh");
                shell
                    .arg("-c")
                    .arg(format!("ulimit -n {limit} && exec \"$0\" \"$@\""))
                    .arg(binary);
                shell
            }
            None => Command::new(binary),
        };
        command
            .args(args)
            .arg("--api-address")
            .arg(format!("127.0.0.1:{port}"))
            .env("NO_COLOR", "1")
            .env_remove("TOKENNET_CRASH_POINT")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, value) in envs {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("spawning the tokennet binary");
        let output = Arc::new(Mutex::new(Vec::new()));
        if let Some(stdout) = child.stdout.take() {
            keep_lines(stdout, Arc::clone(&output));
        }
        if let Some(stderr) = child.stderr.take() {
            keep_lines(stderr, Arc::clone(&output));
        }
        Self {
            label: label.to_string(),
            child,
            base: format!("http://127.0.0.1:{port}"),
            output,
            exited: None,
        }
    }

    /// Polls the status endpoint until ready; the output if the process ends or the
    /// limit passes first.
    async fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + START_LIMIT;
        loop {
            if let Some(status) = self.child.try_wait().expect("polling the node process") {
                self.exited = Some(status);
                // Let the reader threads take the last lines.
                tokio::time::sleep(Duration::from_millis(100)).await;
                return Err(format!("exited with {status}:\n{}", self.output()));
            }
            let status = http(&self.base, "GET", "/api/v1/status", None);
            if let Ok(Ok((200, body))) = tokio::time::timeout(Duration::from_secs(2), status).await
            {
                if body["status"] == "ready" {
                    return Ok(());
                }
            }
            if tokio::time::Instant::now() > deadline {
                return Err(format!(
                    "not ready after {START_LIMIT:?}:\n{}",
                    self.output()
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `http://127.0.0.1:<port>` of its REST API.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Calls its REST API; panics (with the node's output) if there is no answer.
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        http(&self.base, method, path, body)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "{}: {method} {path}: no answer: {e}\n{}",
                    self.label,
                    self.output()
                )
            })
    }

    /// Everything it printed so far.
    pub fn output(&self) -> String {
        lock(&self.output).join("\n")
    }

    /// Waits until a line of its output contains `needle`; panics with the output if the
    /// process ends or `limit` passes first.
    pub async fn wait_for_output(&mut self, needle: &str, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if lock(&self.output).iter().any(|line| line.contains(needle)) {
                return;
            }
            if let Some(status) = self.child.try_wait().expect("polling the node process") {
                self.exited = Some(status);
                tokio::time::sleep(Duration::from_millis(100)).await;
                if lock(&self.output).iter().any(|line| line.contains(needle)) {
                    return;
                }
                panic!(
                    "{}: exited with {status} before printing {needle:?}:\n{}",
                    self.label,
                    self.output()
                );
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{}: timed out after {limit:?} waiting for {needle:?}:\n{}",
                self.label,
                self.output()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Sends it SIGTERM (a polite stop; it is still killed when dropped).
    pub fn terminate(&self) {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("running kill");
        assert!(sent.success(), "{}: kill -TERM failed", self.label);
    }

    /// Waits up to `limit` for it to exit on its own; its exit status, or `None`.
    pub async fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if let Some(status) = self.exited {
                return Some(status);
            }
            if let Some(status) = self.child.try_wait().expect("polling the node process") {
                self.exited = Some(status);
                // Let the reader threads take the last lines.
                tokio::time::sleep(Duration::from_millis(100)).await;
                return Some(status);
            }
            if tokio::time::Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Kills it with SIGKILL (what `Child::kill` sends on Unix) and reaps it. The
    /// process gets no chance to clean up, flush or shut down.
    pub fn kill(&mut self) -> ExitStatus {
        if let Some(status) = self.exited {
            return status;
        }
        // Fails only if it already exited; `wait` reports how.
        let _ = self.child.kill();
        let status = self.child.wait().expect("reaping the node process");
        self.exited = Some(status);
        status
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!(
                "----- output of the node ({}) -----\n{}\n----- end of {} -----",
                self.label,
                self.output(),
                self.label
            );
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Reads `stream` line by line into `output` on a thread of its own, until it closes.
fn keep_lines(stream: impl Read + Send + 'static, output: Arc<Mutex<Vec<String>>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            match line {
                Ok(line) => lock(&output).push(line),
                Err(_) => return,
            }
        }
    });
}

/// One REST call to `base` with reqwest: the status and the body as JSON
/// (`Value::Null` if empty, a string if not JSON).
pub async fn http(
    base: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Result<(u16, Value), reqwest::Error> {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("an HTTP method");
    let mut request = reqwest::Client::new()
        .request(method, format!("{base}{path}"))
        .timeout(Duration::from_secs(300));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    let text = response.text().await?;
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    Ok((status, body))
}
