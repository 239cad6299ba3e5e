//! Runs a package-manager command without a shell, with a time limit, and keeps its output.
//!
//! Detection parses `stdout` alone, while job results show the tail of stdout and stderr
//! interleaved in the order the lines arrived.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

/// Maximum number of lines kept for an output tail.
pub const TAIL_MAX_LINES: usize = 100;
/// Maximum size in bytes of an output tail.
pub const TAIL_MAX_BYTES: usize = 8 * 1024;

/// How long to wait for the output pipes to close after the process exited. A daemon started by
/// a maintainer script can inherit the pipes and keep them open for its whole life.
const PIPE_DRAIN_TIMEOUT: Duration = Duration::from_secs(5);
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Output of a command that ran to its end.
#[derive(Debug, Clone)]
pub struct CommandOutput {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    /// Last lines of stdout and stderr interleaved, see [`TAIL_MAX_LINES`] and [`TAIL_MAX_BYTES`].
    pub output_tail: String,
}

/// Error of a command that did not run to its end.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("failed to start `{command}`: {source}")]
    Spawn {
        command: String,
        source: std::io::Error,
    },
    #[error("failed to wait for `{command}`: {source}")]
    Wait {
        command: String,
        source: std::io::Error,
    },
    #[error("`{command}` timed out after {} s and was killed", timeout.as_secs())]
    Timeout {
        command: String,
        timeout: Duration,
        output_tail: String,
    },
}

/// Formats a command as one line for logs and error messages, program and arguments only.
pub fn describe(command: &Command) -> String {
    let mut text = command.get_program().to_string_lossy().into_owned();
    for argument in command.get_args() {
        text.push(' ');
        text.push_str(&argument.to_string_lossy());
    }
    text
}

/// Runs `command` to its end or until `timeout`, then kills it.
///
/// Stdin is closed. On timeout only the direct child is killed.
// NOTE: a child process of the killed command (dpkg under apt-get) keeps running to its end,
// which is safer for the dpkg database than killing it half way.
pub fn run(mut command: Command, timeout: Duration) -> Result<CommandOutput, CommandError> {
    let description = describe(&command);
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().map_err(|source| CommandError::Spawn {
        command: description.clone(),
        source,
    })?;

    let combined = Arc::new(Mutex::new(VecDeque::new()));
    let (done_sender, done_receiver) = mpsc::channel();
    let stdout_reader = child
        .stdout
        .take()
        .map(|pipe| spawn_reader(pipe, Arc::clone(&combined), done_sender.clone()));
    let stderr_reader = child
        .stderr
        .take()
        .map(|pipe| spawn_reader(pipe, Arc::clone(&combined), done_sender.clone()));
    drop(done_sender);

    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(source) => {
                return Err(CommandError::Wait {
                    command: description,
                    source,
                });
            }
        }
        if Instant::now() >= deadline {
            // The process may have exited between try_wait and kill, so a kill error is harmless.
            let _ = child.kill();
            let _ = child.wait();
            return Err(CommandError::Timeout {
                command: description,
                timeout,
                output_tail: tail_of(&combined),
            });
        }
        thread::sleep(POLL_INTERVAL);
    };

    let drain_deadline = Instant::now() + PIPE_DRAIN_TIMEOUT;
    for _ in 0..2 {
        let remaining = drain_deadline.saturating_duration_since(Instant::now());
        if done_receiver.recv_timeout(remaining).is_err() {
            tracing::warn!(command = %description, "output pipe still open after the command exited");
            break;
        }
    }
    let stdout = collect(stdout_reader);
    let stderr = collect(stderr_reader);
    Ok(CommandOutput {
        status,
        stdout,
        stderr,
        output_tail: tail_of(&combined),
    })
}

type Reader = (Arc<Mutex<String>>, thread::JoinHandle<()>);

fn spawn_reader(
    pipe: impl Read + Send + 'static,
    combined: Arc<Mutex<VecDeque<String>>>,
    done: mpsc::Sender<()>,
) -> Reader {
    let own = Arc::new(Mutex::new(String::new()));
    let own_for_thread = Arc::clone(&own);
    let handle = thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut line = Vec::new();
        while matches!(reader.read_until(b'\n', &mut line), Ok(n) if n > 0) {
            let text = String::from_utf8_lossy(&line).into_owned();
            if let Ok(mut own) = own_for_thread.lock() {
                own.push_str(&text);
            }
            if let Ok(mut combined) = combined.lock() {
                combined.push_back(text.trim_end_matches('\n').to_owned());
                while combined.len() > TAIL_MAX_LINES {
                    combined.pop_front();
                }
            }
            line.clear();
        }
        let _ = done.send(());
    });
    (own, handle)
}

fn collect(reader: Option<Reader>) -> String {
    reader
        .and_then(|(text, _handle)| text.lock().ok().map(|text| text.clone()))
        .unwrap_or_default()
}

fn tail_of(combined: &Mutex<VecDeque<String>>) -> String {
    combined
        .lock()
        .map(|lines| tail(lines.iter().map(String::as_str)))
        .unwrap_or_default()
}

/// Joins the last lines of `lines`, at most [`TAIL_MAX_LINES`] lines and [`TAIL_MAX_BYTES`]
/// bytes, cutting only at line boundaries (a single longer line keeps its last bytes).
pub fn tail<'a>(lines: impl DoubleEndedIterator<Item = &'a str>) -> String {
    let mut kept: Vec<&str> = Vec::new();
    let mut size = 0;
    for line in lines.rev().take(TAIL_MAX_LINES) {
        if size + line.len() + 1 > TAIL_MAX_BYTES {
            if kept.is_empty() {
                let mut start = line.len().saturating_sub(TAIL_MAX_BYTES);
                while !line.is_char_boundary(start) {
                    start += 1;
                }
                kept.push(&line[start..]);
            }
            break;
        }
        size += line.len() + 1;
        kept.push(line);
    }
    kept.reverse();
    kept.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_last_lines() {
        let lines: Vec<String> = (0..150).map(|i| format!("line {i}")).collect();
        let text = tail(lines.iter().map(String::as_str));
        assert_eq!(text.lines().count(), TAIL_MAX_LINES);
        assert!(text.starts_with("line 50\n"), "{text}");
        assert!(text.ends_with("line 149"), "{text}");
    }

    #[test]
    fn tail_limits_bytes() {
        let long = "x".repeat(1000);
        let lines: Vec<&str> = std::iter::repeat_n(long.as_str(), 20).collect();
        let text = tail(lines.into_iter());
        assert!(text.len() <= TAIL_MAX_BYTES, "{}", text.len());
        assert_eq!(text.lines().count(), 8);
    }

    #[test]
    fn run_captures_both_streams() {
        let mut command = Command::new("ls");
        command.args(["-d", "/", "/nonexistent-sysmanage-path"]);
        let output = run(command, Duration::from_secs(10)).unwrap();
        assert_eq!(output.status.code(), Some(2));
        assert_eq!(output.stdout, "/\n");
        assert!(
            output.stderr.contains("nonexistent-sysmanage-path"),
            "{}",
            output.stderr
        );
        assert!(output.output_tail.starts_with("/\n") || output.output_tail.ends_with("\n/"));
        assert!(output.output_tail.contains("nonexistent-sysmanage-path"));
    }

    #[test]
    fn run_kills_on_timeout() {
        let mut command = Command::new("sleep");
        command.arg("30");
        let started = Instant::now();
        let error = run(command, Duration::from_millis(300)).unwrap_err();
        assert!(matches!(error, CommandError::Timeout { .. }), "{error}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn run_reports_missing_program() {
        let command = Command::new("/nonexistent/sysmanage-test-program");
        let error = run(command, Duration::from_secs(1)).unwrap_err();
        assert!(matches!(error, CommandError::Spawn { .. }), "{error}");
    }
}
