//! The open-loop load generator of `make bench`: requests at fixed intended times, latency
//! measured from the intended send time (so a stall is charged to every request it delayed:
//! no coordinated omission), percentiles printed as one JSON object.
//!
//! Usage:
//!   bench_openloop grpc-get  ADDR NAMESPACE KEY [options]   KeyValue Get over tonic
//!   bench_openloop redis-get ADDR KEY [options]             GET over raw RESP (SETs KEY first)
//! Options: --rate RPS (1000) --duration S (5) --warmup S (1) --connections N (16)
//!          --value-bytes N (256, the value SET for redis-get)
//!
//! A pacer OS thread (timer slack 1 us) wakes at each intended time and hands the time to
//! the async side, which sends on connection i mod N without waiting for earlier answers.
//! Requests whose intended time falls in the warm-up are sent but not recorded.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prism_bench::pb::kv;
use prism_bench::percentile;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

/// One finished request: its intended send time, its latency from then, and success.
struct Sample {
    intended: Instant,
    latency: Duration,
    ok: bool,
}

struct Options {
    rate: f64,
    duration: f64,
    warmup: f64,
    connections: usize,
    value_bytes: usize,
}

enum Target {
    GrpcGet { addr: String, namespace: String, key: Vec<u8> },
    RedisGet { addr: String, key: Vec<u8> },
}

fn usage(problem: &str) -> ! {
    eprintln!("bench_openloop: {problem}");
    eprintln!("usage: bench_openloop grpc-get ADDR NAMESPACE KEY | redis-get ADDR KEY");
    eprintln!("       [--rate RPS] [--duration S] [--warmup S] [--connections N] [--value-bytes N]");
    std::process::exit(2);
}

fn parse_args() -> (Target, Options) {
    let mut positional = Vec::new();
    let mut opts = Options { rate: 1000.0, duration: 5.0, warmup: 1.0, connections: 16, value_bytes: 256 };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if let Some(name) = arg.strip_prefix("--") {
            let value = args.next().unwrap_or_else(|| usage(&format!("--{name} needs a value")));
            let number: f64 =
                value.parse().unwrap_or_else(|_| usage(&format!("--{name} must be a number, got {value:?}")));
            match name {
                "rate" if number > 0.0 => opts.rate = number,
                "duration" if number > 0.0 => opts.duration = number,
                "warmup" if number >= 0.0 => opts.warmup = number,
                "connections" if number >= 1.0 => opts.connections = number as usize,
                "value-bytes" if number >= 0.0 => opts.value_bytes = number as usize,
                _ => usage(&format!("unknown option or out-of-range value: --{name} {value}")),
            }
        } else {
            positional.push(arg);
        }
    }
    let target = match positional.as_slice() {
        [mode, addr, ns, key] if mode == "grpc-get" => {
            Target::GrpcGet { addr: addr.clone(), namespace: ns.clone(), key: key.as_bytes().to_vec() }
        }
        [mode, addr, key] if mode == "redis-get" => {
            Target::RedisGet { addr: addr.clone(), key: key.as_bytes().to_vec() }
        }
        _ => usage("expected a mode (grpc-get or redis-get) and its arguments"),
    };
    (target, opts)
}

/// Sends each intended time of the run into `tx`, waking as close to it as the OS allows.
fn pace(start: Instant, period: Duration, count: u64, tx: mpsc::UnboundedSender<Instant>) {
    // The default 50 us timer slack would make every wake-up late by up to 50 us.
    // SAFETY: prctl(PR_SET_TIMERSLACK) only changes this thread's timer slack.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong);
    }
    for i in 0..count {
        let intended = start + period.mul_f64(i as f64);
        let now = Instant::now();
        if intended > now {
            std::thread::sleep(intended - now);
        }
        if tx.send(intended).is_err() {
            return;
        }
    }
}

/// Sends one request for an intended time, without waiting for earlier answers.
type Dispatch = Box<dyn FnMut(Instant)>;

/// Opens the gRPC connections; the dispatcher spawns one Get per intended time.
async fn grpc_get(
    addr: &str,
    namespace: String,
    key: Vec<u8>,
    opts: &Options,
    done: mpsc::UnboundedSender<Sample>,
) -> Result<Dispatch, String> {
    let mut clients = Vec::with_capacity(opts.connections);
    for _ in 0..opts.connections {
        // One Channel per connection: each Endpoint::connect opens its own HTTP/2 connection.
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .map_err(|e| format!("bad address {addr}: {e}"))?
            .tcp_nodelay(true)
            .connect()
            .await
            .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
        clients.push(kv::key_value_client::KeyValueClient::new(channel));
    }
    let request = kv::GetRequest { namespace, key };
    let mut i = 0usize;
    Ok(Box::new(move |intended| {
        let mut client = clients[i % clients.len()].clone();
        i += 1;
        let (request, done) = (request.clone(), done.clone());
        tokio::spawn(async move {
            let ok = matches!(client.get(request).await, Ok(r) if r.get_ref().found);
            let _ = done.send(Sample { intended, latency: intended.elapsed(), ok });
        });
    }))
}

/// The length of the first complete RESP reply in `buf` and whether it is a bulk string.
fn resp_reply(buf: &[u8]) -> Option<(usize, bool)> {
    let line_end = buf.windows(2).position(|w| w == b"\r\n")?;
    let head = &buf[..line_end];
    match head.first()? {
        b'$' => {
            let len: i64 = std::str::from_utf8(&head[1..]).ok()?.parse().ok()?;
            if len < 0 {
                return Some((line_end + 2, false)); // nil: the key is missing
            }
            let total = line_end + 2 + len as usize + 2;
            (buf.len() >= total).then_some((total, true))
        }
        _ => Some((line_end + 2, false)), // an error or an unexpected simple reply
    }
}

fn resp_command(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", parts.len()).into_bytes();
    for part in parts {
        out.extend_from_slice(format!("${}\r\n", part.len()).as_bytes());
        out.extend_from_slice(part);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// SETs the key, opens the Redis connections (a writer and a reader task each); the
/// dispatcher hands each intended time to the next connection's writer.
async fn redis_get(
    addr: &str,
    key: Vec<u8>,
    opts: &Options,
    done: mpsc::UnboundedSender<Sample>,
) -> Result<Dispatch, String> {
    let connect = || async {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        Ok::<_, String>(stream)
    };
    // The value every GET returns, written first so the GETs are hits.
    let mut setup = connect().await?;
    let value = vec![b'v'; opts.value_bytes];
    setup.write_all(&resp_command(&[b"SET", &key, &value])).await.map_err(|e| e.to_string())?;
    let mut reply = [0u8; 64];
    let n = setup.read(&mut reply).await.map_err(|e| e.to_string())?;
    if !reply[..n].starts_with(b"+OK") {
        return Err(format!("SET answered {:?}", String::from_utf8_lossy(&reply[..n])));
    }
    let command = Arc::new(resp_command(&[b"GET", &key]));
    let mut writers = Vec::with_capacity(opts.connections);
    for _ in 0..opts.connections {
        let (mut reader, mut writer) = connect().await?.into_split();
        // Replies come back in request order, so the reader pairs each with the oldest
        // intended time still pending on its connection.
        let pending: Arc<Mutex<VecDeque<Instant>>> = Arc::default();
        let (tx, mut rx) = mpsc::unbounded_channel::<Instant>();
        let (pending_w, command) = (pending.clone(), command.clone());
        tokio::spawn(async move {
            while let Some(intended) = rx.recv().await {
                pending_w.lock().expect("pending lock").push_back(intended);
                if writer.write_all(&command).await.is_err() {
                    return;
                }
            }
        });
        let done = done.clone();
        tokio::spawn(async move {
            let mut buf = Vec::with_capacity(64 * 1024);
            let mut chunk = vec![0u8; 64 * 1024];
            loop {
                let n = match reader.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                buf.extend_from_slice(&chunk[..n]);
                let mut used = 0;
                while let Some((len, ok)) = resp_reply(&buf[used..]) {
                    used += len;
                    let Some(intended) = pending.lock().expect("pending lock").pop_front() else { return };
                    let _ = done.send(Sample { intended, latency: intended.elapsed(), ok });
                }
                buf.drain(..used);
            }
        });
        writers.push(tx);
    }
    let mut i = 0usize;
    Ok(Box::new(move |intended| {
        let _ = writers[i % writers.len()].send(intended);
        i += 1;
    }))
}

fn main() {
    let (target, opts) = parse_args();
    let period = Duration::from_secs_f64(1.0 / opts.rate);
    let count = ((opts.warmup + opts.duration) * opts.rate).round() as u64;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
    let (tick_tx, mut tick_rx) = mpsc::unbounded_channel();
    let (done_tx, mut done_rx) = mpsc::unbounded_channel();
    let result = runtime.block_on(async {
        let mut dispatch = match target {
            Target::GrpcGet { addr, namespace, key } => {
                grpc_get(&addr, namespace, key, &opts, done_tx).await?
            }
            Target::RedisGet { addr, key } => redis_get(&addr, key, &opts, done_tx).await?,
        };
        // The clock starts once every connection is open, so setup never counts as latency.
        let start = Instant::now() + Duration::from_millis(50);
        let pacer = std::thread::spawn(move || pace(start, period, count, tick_tx));
        while let Some(intended) = tick_rx.recv().await {
            dispatch(intended);
        }
        // Each intended time yields at most one sample; answers still missing 5 s after the
        // last send are given up on (and counted as failed below).
        let mut samples = Vec::with_capacity(count as usize);
        let deadline = tokio::time::sleep(Duration::from_secs(5));
        tokio::pin!(deadline);
        while (samples.len() as u64) < count {
            tokio::select! {
                sample = done_rx.recv() => match sample {
                    Some(s) => samples.push(s),
                    None => break,
                },
                _ = &mut deadline => break,
            }
        }
        let _ = pacer.join();
        Ok::<_, String>((start, samples))
    });
    let (start, samples) = match result {
        Ok(ok) => ok,
        Err(e) => {
            eprintln!("bench_openloop: {e}");
            std::process::exit(1);
        }
    };
    let measured_from = start + Duration::from_secs_f64(opts.warmup);
    let expected = count - (opts.warmup * opts.rate).round() as u64;
    let mut latencies: Vec<u64> = Vec::with_capacity(samples.len());
    let mut failed = 0u64;
    for s in samples.iter().filter(|s| s.intended >= measured_from) {
        if s.ok {
            latencies.push(s.latency.as_nanos() as u64);
        } else {
            failed += 1;
        }
    }
    latencies.sort_unstable();
    let answered = latencies.len() as u64 + failed;
    let us = |ns: u64| ns as f64 / 1000.0;
    let mean = if latencies.is_empty() { 0 } else { latencies.iter().sum::<u64>() / latencies.len() as u64 };
    let report = serde_json::json!({
        "tool": "bench_openloop",
        "rate": opts.rate,
        "duration_s": opts.duration,
        "connections": opts.connections,
        "requests": latencies.len(),
        // Unanswered (lost or past the deadline) requests count as failures.
        "failed": failed + expected.saturating_sub(answered),
        "lat_mean_us": us(mean),
        "lat_p50_us": us(percentile(&latencies, 0.50)),
        "lat_p99_us": us(percentile(&latencies, 0.99)),
        "lat_p999_us": us(percentile(&latencies, 0.999)),
        "lat_max_us": us(latencies.last().copied().unwrap_or(0)),
    });
    println!("{report}");
}

#[cfg(test)]
mod tests {
    use super::{resp_command, resp_reply};

    #[test]
    fn resp_replies_are_framed() {
        assert_eq!(resp_reply(b"$3\r\nabc\r\n$1"), Some((9, true)));
        assert_eq!(resp_reply(b"$3\r\nab"), None);
        assert_eq!(resp_reply(b"$-1\r\n"), Some((5, false)));
        assert_eq!(resp_reply(b"-ERR wrong\r\n"), Some((12, false)));
        assert_eq!(resp_reply(b"$3"), None);
    }

    #[test]
    fn resp_commands_are_arrays_of_bulk_strings() {
        assert_eq!(resp_command(&[b"GET", b"k"]), b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
    }
}
