//! A real SMTP server on loopback (aiosmtpd, `tests/support/smtp_sink.py`)
//! that records every message it accepts.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

use serde_json::Value;

/// The running server.
pub struct SmtpSink {
    child: Child,
    /// Port on 127.0.0.1.
    pub port: u16,
    messages: Receiver<Value>,
}

impl SmtpSink {
    /// Starts the server on a free port.
    pub fn start() -> Self {
        Self::start_with_login(None)
    }

    /// Starts the server on a free port, requiring this user and password.
    pub fn start_with_login(login: Option<(&str, &str)>) -> Self {
        let mut cmd = Command::new(crate::python::python());
        if let Some((user, password)) = login {
            cmd.env("SINK_USER", user).env("SINK_PASSWORD", password);
        }
        let mut child = cmd
            .arg("-u")
            .arg(crate::python::support_file("smtp_sink.py"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the SMTP server");
        let stdout = child.stdout.take().expect("stdout");
        let (port_tx, port_rx) = channel();
        let (tx, messages) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(port) = line.strip_prefix("LISTENING ") {
                    let _ = port_tx.send(port.trim().parse::<u16>().expect("port"));
                } else if let Ok(message) = serde_json::from_str::<Value>(&line) {
                    let _ = tx.send(message);
                }
            }
        });
        let port = port_rx.recv_timeout(Duration::from_secs(30)).expect("SMTP server did not start");
        Self { child, port, messages }
    }

    /// The next message accepted, waiting up to `timeout`.
    pub fn next_message(&self, timeout: Duration) -> Option<Value> {
        self.messages.recv_timeout(timeout).ok()
    }

    /// Environment for a host that sends through this server.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("WEFT_SMTP_HOST".into(), "127.0.0.1".into()),
            ("WEFT_SMTP_PORT".into(), self.port.to_string()),
            ("WEFT_SMTP_TLS".into(), "none".into()),
            ("WEFT_SMTP_FROM".into(), "Weft <weft@example.test>".into()),
        ]
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
