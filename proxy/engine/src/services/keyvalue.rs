//! `prism.keyvalue.v1.KeyValue` over the call stack.

use tonic::{Request as Req, Response, Status};

use super::{mismatch, run};
use crate::call::{Reply, Request};
use crate::pb::kv;
use crate::stack::CallStack;

#[derive(Clone)]
pub struct KeyValueService {
    stack: CallStack,
}

impl KeyValueService {
    pub fn new(stack: CallStack) -> Self {
        Self { stack }
    }
}

#[tonic::async_trait]
impl kv::key_value_server::KeyValue for KeyValueService {
    async fn get(&self, request: Req<kv::GetRequest>) -> Result<Response<kv::GetResponse>, Status> {
        match run(&self.stack, request, Request::Get).await? {
            Reply::Get(response) => Ok(Response::new(response)),
            _ => Err(mismatch()),
        }
    }

    async fn batch_get(
        &self,
        request: Req<kv::BatchGetRequest>,
    ) -> Result<Response<kv::BatchGetResponse>, Status> {
        match run(&self.stack, request, Request::BatchGet).await? {
            Reply::BatchGet(response) => Ok(Response::new(response)),
            _ => Err(mismatch()),
        }
    }

    async fn exists(&self, request: Req<kv::ExistsRequest>) -> Result<Response<kv::ExistsResponse>, Status> {
        match run(&self.stack, request, Request::Exists).await? {
            Reply::Exists(response) => Ok(Response::new(response)),
            _ => Err(mismatch()),
        }
    }

    async fn put(&self, request: Req<kv::PutRequest>) -> Result<Response<kv::PutResponse>, Status> {
        match run(&self.stack, request, Request::Put).await? {
            Reply::Put(response) => Ok(Response::new(response)),
            _ => Err(mismatch()),
        }
    }

    async fn batch_put(
        &self,
        request: Req<kv::BatchPutRequest>,
    ) -> Result<Response<kv::BatchPutResponse>, Status> {
        match run(&self.stack, request, Request::BatchPut).await? {
            Reply::BatchPut(response) => Ok(Response::new(response)),
            _ => Err(mismatch()),
        }
    }

    async fn delete(&self, request: Req<kv::DeleteRequest>) -> Result<Response<kv::DeleteResponse>, Status> {
        match run(&self.stack, request, Request::Delete).await? {
            Reply::Delete(response) => Ok(Response::new(response)),
            _ => Err(mismatch()),
        }
    }

    async fn batch_delete(
        &self,
        request: Req<kv::BatchDeleteRequest>,
    ) -> Result<Response<kv::BatchDeleteResponse>, Status> {
        match run(&self.stack, request, Request::BatchDelete).await? {
            Reply::BatchDelete(response) => Ok(Response::new(response)),
            _ => Err(mismatch()),
        }
    }

    async fn scan(&self, request: Req<kv::ScanRequest>) -> Result<Response<kv::ScanResponse>, Status> {
        match run(&self.stack, request, Request::Scan).await? {
            Reply::Scan(response) => Ok(Response::new(response)),
            _ => Err(mismatch()),
        }
    }
}
