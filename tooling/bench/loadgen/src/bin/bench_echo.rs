//! Lane T: a bare tonic server of the KeyValue service, the gRPC transport ceiling.
//!
//! `Get` answers every key with one fixed 256-byte value; no tower layers, no namespace,
//! no cache, no backend. The other methods are UNIMPLEMENTED. The runtime is built like the
//! gateway's (multi-thread, workers = the cores it is pinned to), so the lane differs from
//! lane B only by what Prism adds.
//!
//! Usage: `bench_echo 127.0.0.1:PORT`; prints `listening ADDR` once it accepts connections.

use std::net::SocketAddr;

use prism_bench::pb::kv;
use prism_bench::pb::kv::key_value_server::{KeyValue, KeyValueServer};
use tonic::{Request, Response, Status};

/// The same size as the bench's value (tooling/bench/lanes.py VALUE).
const VALUE_BYTES: usize = 256;

struct Echo {
    value: Vec<u8>,
}

fn unimplemented<T>(method: &str) -> Result<Response<T>, Status> {
    Err(Status::unimplemented(format!("bench_echo serves only Get, not {method}")))
}

#[tonic::async_trait]
impl KeyValue for Echo {
    async fn get(&self, request: Request<kv::GetRequest>) -> Result<Response<kv::GetResponse>, Status> {
        let key = request.into_inner().key;
        let item = kv::Item { key, value: self.value.clone(), version: 1, expires_at: None };
        Ok(Response::new(kv::GetResponse { found: true, item: Some(item) }))
    }

    async fn batch_get(
        &self,
        _: Request<kv::BatchGetRequest>,
    ) -> Result<Response<kv::BatchGetResponse>, Status> {
        unimplemented("BatchGet")
    }

    async fn exists(&self, _: Request<kv::ExistsRequest>) -> Result<Response<kv::ExistsResponse>, Status> {
        unimplemented("Exists")
    }

    async fn put(&self, _: Request<kv::PutRequest>) -> Result<Response<kv::PutResponse>, Status> {
        unimplemented("Put")
    }

    async fn batch_put(
        &self,
        _: Request<kv::BatchPutRequest>,
    ) -> Result<Response<kv::BatchPutResponse>, Status> {
        unimplemented("BatchPut")
    }

    async fn delete(&self, _: Request<kv::DeleteRequest>) -> Result<Response<kv::DeleteResponse>, Status> {
        unimplemented("Delete")
    }

    async fn batch_delete(
        &self,
        _: Request<kv::BatchDeleteRequest>,
    ) -> Result<Response<kv::BatchDeleteResponse>, Status> {
        unimplemented("BatchDelete")
    }

    async fn scan(&self, _: Request<kv::ScanRequest>) -> Result<Response<kv::ScanResponse>, Status> {
        unimplemented("Scan")
    }
}

fn main() {
    let arg = std::env::args().nth(1).unwrap_or_default();
    let addr: SocketAddr = match arg.parse() {
        Ok(addr) => addr,
        Err(_) => {
            eprintln!("usage: bench_echo HOST:PORT (got {arg:?})");
            std::process::exit(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let result: Result<(), Box<dyn std::error::Error>> = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        println!("listening {}", listener.local_addr()?);
        let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
        let service = KeyValueServer::new(Echo { value: vec![0xAB; VALUE_BYTES] });
        tonic::transport::Server::builder().add_service(service).serve_with_incoming(incoming).await?;
        Ok(())
    });
    if let Err(e) = result {
        eprintln!("bench_echo: {e}");
        std::process::exit(1);
    }
}
