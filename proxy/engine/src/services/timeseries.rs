//! `prism.timeseries.v1.TimeSeries` over the call stack.

use tonic::{Request as Req, Response, Status};

use super::{mismatch, run};
use crate::call::{EventStream, Reply, Request};
use crate::pb::ts;
use crate::stack::CallStack;

#[derive(Clone)]
pub struct TimeSeriesService {
    stack: CallStack,
}

impl TimeSeriesService {
    pub fn new(stack: CallStack) -> Self {
        Self { stack }
    }
}

#[tonic::async_trait]
impl ts::time_series_server::TimeSeries for TimeSeriesService {
    async fn append(&self, request: Req<ts::AppendRequest>) -> Result<Response<ts::AppendResponse>, Status> {
        match run(&self.stack, request, Request::Append).await? {
            Reply::Append(response) => Ok(Response::new(response)),
            _ => Err(mismatch()),
        }
    }

    async fn query(&self, request: Req<ts::QueryRequest>) -> Result<Response<ts::QueryResponse>, Status> {
        match run(&self.stack, request, Request::Query).await? {
            Reply::Query(response) => Ok(Response::new(response)),
            _ => Err(mismatch()),
        }
    }

    async fn aggregate(
        &self,
        request: Req<ts::AggregateRequest>,
    ) -> Result<Response<ts::AggregateResponse>, Status> {
        match run(&self.stack, request, Request::Aggregate).await? {
            Reply::Aggregate(response) => Ok(Response::new(response)),
            _ => Err(mismatch()),
        }
    }

    type TailStream = EventStream;

    async fn tail(&self, request: Req<ts::TailRequest>) -> Result<Response<EventStream>, Status> {
        match run(&self.stack, request, Request::Tail).await? {
            Reply::Tail(stream) => Ok(Response::new(stream)),
            _ => Err(mismatch()),
        }
    }
}
