//! The audit writer: one OS thread that drains the queue, turns records into
//! JSON lines, appends them to the file through a buffer, flushes at least every
//! `FLUSH_EVERY`, and rotates the file at `max_bytes` (`<path>.1` is the newest
//! old file, `<path>.<keep>` the oldest kept).

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::fingerprint::Fingerprinter;
use super::queue::Queue;
use super::record::LineFormat;
use crate::metrics::Metrics;

/// Longest time a written record may sit in the buffer before it reaches the file.
pub const FLUSH_EVERY: Duration = Duration::from_millis(200);
/// How often the writer wakes on its own to drain the queue.
const TICK: Duration = Duration::from_millis(50);

/// An append-only JSON-lines file with size-based rotation.
pub struct FileLog {
    path: PathBuf,
    max_bytes: u64,
    keep: usize,
    file: BufWriter<File>,
    size: u64,
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

impl FileLog {
    pub fn open(path: &Path, max_bytes: u64, keep: usize) -> io::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let file = open_append(path)?;
        let size = file.metadata()?.len();
        Ok(Self {
            path: path.to_path_buf(),
            max_bytes: max_bytes.max(1),
            keep,
            file: BufWriter::with_capacity(64 * 1024, file),
            size,
        })
    }

    /// Appends one line, rotating first when it would take the file past `max_bytes`
    /// (a line longer than `max_bytes` gets a file of its own).
    pub fn write_line(&mut self, line: &[u8]) -> io::Result<()> {
        if self.size > 0 && self.size + line.len() as u64 > self.max_bytes {
            self.rotate()?;
        }
        self.file.write_all(line)?;
        self.size += line.len() as u64;
        Ok(())
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }

    fn numbered(&self, n: usize) -> PathBuf {
        let mut name = self.path.clone().into_os_string();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    }

    fn rotate(&mut self) -> io::Result<()> {
        self.file.flush()?;
        if self.keep == 0 {
            std::fs::remove_file(&self.path)?;
        } else {
            // The oldest falls off; each other moves up one; the live file becomes `.1`.
            let _ = std::fs::remove_file(self.numbered(self.keep));
            for n in (1..self.keep).rev() {
                let from = self.numbered(n);
                if from.exists() {
                    std::fs::rename(&from, self.numbered(n + 1))?;
                }
            }
            std::fs::rename(&self.path, self.numbered(1))?;
        }
        self.file = BufWriter::with_capacity(64 * 1024, open_append(&self.path)?);
        self.size = 0;
        Ok(())
    }
}

/// Starts the writer thread; it exits after `queue.close()`, having drained and flushed.
pub fn spawn(
    queue: Arc<Queue>,
    mut log: FileLog,
    fingerprints: Fingerprinter,
    metrics: Arc<Metrics>,
) -> io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new().name("prism-audit".into()).spawn(move || {
        let mut format = LineFormat::new(fingerprints);
        let mut spare = Vec::new();
        let mut line = Vec::with_capacity(512);
        let mut last_flush = Instant::now();
        let mut dirty = false;
        let mut last_error: Option<Instant> = None;
        loop {
            let mut batch = queue.take(TICK, spare);
            let (mut written, mut failed) = (0u64, 0u64);
            format.refresh();
            for record in batch.records.drain(..) {
                line.clear();
                format.write(&record, &mut line);
                match log.write_line(&line) {
                    Ok(()) => written += 1,
                    Err(err) => {
                        failed += 1;
                        // One message per second at most: a full disk must not flood the log.
                        if last_error.is_none_or(|at| at.elapsed() >= Duration::from_secs(1)) {
                            tracing::error!("audit: cannot write {}: {err}", log.path.display());
                            last_error = Some(Instant::now());
                        }
                    }
                }
            }
            // The emptied vector keeps its capacity for the next batch.
            spare = batch.records;
            let security = &metrics.security;
            if written > 0 {
                dirty = true;
                security.audit_records.fetch_add(written, Ordering::Relaxed);
            }
            if failed > 0 {
                security.audit_dropped.fetch_add(failed, Ordering::Relaxed);
            }
            let due = last_flush.elapsed() >= FLUSH_EVERY;
            if dirty && (due || batch.flush.is_some() || batch.closed) {
                if let Err(err) = log.flush() {
                    tracing::error!("audit: cannot flush {}: {err}", log.path.display());
                }
                dirty = false;
                last_flush = Instant::now();
            } else if !dirty {
                last_flush = Instant::now();
            }
            if let Some(asked) = batch.flush {
                queue.flushed(asked);
            }
            if batch.closed {
                queue.writer_exited();
                return;
            }
        }
    })
}
