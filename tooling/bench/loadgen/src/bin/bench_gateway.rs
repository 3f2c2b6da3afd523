//! Lane B(Rust only): the gateway's engine with no Python at all.
//!
//! It starts `prism_engine::server::Server` exactly as the `prism._core` binding does
//! (`Server::start(config, bridge)`, which builds the engine's own multi-thread runtime,
//! workers = the cores it is pinned to unless `server.worker_threads` says otherwise), but
//! with no bridge: no interpreter, no plugin host, no admin client. Its resident memory under
//! lane B's load is therefore the Rust part's, which the whole gateway process can only bound.
//!
//! The config is the JSON the control plane hands the engine (python/prism/config.py
//! `Config.to_core_json`). Only natively served backends can run (the memory backend): the
//! engine refuses any other at start, naming the namespace, because it needs the plugin host.
//!
//! Usage: `bench_gateway (--config FILE | --config-json JSON) [--listen ADDR] [--metrics-listen ADDR]`
//! (`--listen`/`--metrics-listen` replace `server.listen`/`server.metrics_listen`; port 0
//! picks a free one). Prints `listening GRPC_ADDR METRICS_ADDR` once both listeners accept;
//! SIGTERM or SIGINT drains in-flight requests (up to 5 s) and exits 0.

use std::time::Duration;

use prism_engine::config::ProxyConfig;
use prism_engine::server::Server;

/// How long a stop signal lets in-flight requests finish.
const GRACE: Duration = Duration::from_secs(5);

const USAGE: &str = "usage: bench_gateway (--config FILE | --config-json JSON) [--listen HOST:PORT] \
                     [--metrics-listen HOST:PORT]";

struct Args {
    config_json: String,
    listen: Option<String>,
    metrics_listen: Option<String>,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut config_json = None;
    let mut listen = None;
    let mut metrics_listen = None;
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--config" => {
                let path = value()?;
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("--config {path}: cannot read: {e}"))?;
                config_json = Some(text);
            }
            "--config-json" => config_json = Some(value()?),
            "--listen" => listen = Some(value()?),
            "--metrics-listen" => metrics_listen = Some(value()?),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let config_json = config_json.ok_or("one of --config FILE or --config-json JSON is required")?;
    Ok(Args { config_json, listen, metrics_listen })
}

/// Blocks SIGTERM and SIGINT in this thread, before any other thread exists, so every
/// thread the engine starts inherits the mask and the signals wait for `wait_for_stop`.
fn block_stop_signals() -> Result<libc::sigset_t, String> {
    // SAFETY: the set is initialised by sigemptyset before any other use, and
    // pthread_sigmask only reads it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        let rc = libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        if rc != 0 {
            return Err(format!("cannot block SIGTERM/SIGINT: {}", std::io::Error::from_raw_os_error(rc)));
        }
        Ok(set)
    }
}

/// Waits for SIGTERM or SIGINT (blocked by `block_stop_signals`); returns its number.
fn wait_for_stop(set: &libc::sigset_t) -> Result<i32, String> {
    let mut signal = 0;
    // SAFETY: `set` is an initialised signal set and `signal` a valid place to write to.
    let rc = unsafe { libc::sigwait(set, &mut signal) };
    if rc != 0 {
        return Err(format!("sigwait failed: {}", std::io::Error::from_raw_os_error(rc)));
    }
    Ok(signal)
}

fn run(args: Args) -> Result<(), (i32, String)> {
    let mut config = ProxyConfig::from_json(&args.config_json).map_err(|e| (2, e.to_string()))?;
    if let Some(listen) = args.listen {
        config.server.listen = listen;
    }
    if let Some(listen) = args.metrics_listen {
        config.server.metrics_listen = listen;
    }
    let stop = block_stop_signals().map_err(|e| (1, e))?;
    let mut server = Server::start(config, None).map_err(|e| (1, e.to_string()))?;
    // Line-buffered stdout: the harness reads this line to learn the ports.
    println!("listening {} {}", server.grpc_addr, server.metrics_addr);
    let signal = wait_for_stop(&stop).map_err(|e| (1, e))?;
    eprintln!("bench_gateway: signal {signal}, draining");
    server.shutdown(GRACE);
    Ok(())
}

fn main() {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("bench_gateway: {e}\n{USAGE}");
            std::process::exit(2);
        }
    };
    if let Err((code, e)) = run(args) {
        eprintln!("bench_gateway: {e}");
        std::process::exit(code);
    }
}

#[cfg(test)]
mod tests {
    use super::parse_args;

    fn args(list: &[&str]) -> Result<super::Args, String> {
        parse_args(list.iter().map(|s| s.to_string()))
    }

    #[test]
    fn flags_override_the_listeners() {
        let parsed = args(&["--config-json", "{}", "--listen", "127.0.0.1:0", "--metrics-listen", "[::1]:0"])
            .expect("valid arguments");
        assert_eq!(parsed.config_json, "{}");
        assert_eq!(parsed.listen.as_deref(), Some("127.0.0.1:0"));
        assert_eq!(parsed.metrics_listen.as_deref(), Some("[::1]:0"));
    }

    #[test]
    fn bad_arguments_name_what_to_fix() {
        assert!(args(&[]).err().expect("no config").contains("--config FILE"));
        assert!(args(&["--listen"]).err().expect("no value").contains("--listen needs a value"));
        assert!(args(&["--port", "1"]).err().expect("unknown").contains("\"--port\""));
        let missing = args(&["--config", "/nonexistent/prism.json"]).err().expect("unreadable");
        assert!(missing.contains("/nonexistent/prism.json"), "{missing}");
    }
}
