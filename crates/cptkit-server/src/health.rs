//! `grpc.health.v1.Health` read with cptkit's codec.
//!
//! tonic-health's service answers (its statuses are set through its `HealthReporter`), but its
//! generated server decodes with prost's codec, which answers bytes that are not a
//! `HealthCheckRequest` with INTERNAL, a server fault. [`HealthRoutes`] answers Check and Watch through
//! tonic's server machinery with [`cptkit_proto::codec::Codec`], so such bytes are INVALID_ARGUMENT, as
//! on every cptkit method; any other path goes to the generated server.

use std::sync::Arc;

use cptkit_proto::codec::Codec;
use tonic::server::{Grpc, ServerStreamingService, UnaryService};
use tonic::{Request, Response, Status};
use tonic_health::pb::health_server::{Health as _, HealthServer};
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};
use tonic_health::server::{HealthReporter, HealthService, WatchStream};

use crate::prepared::{BoxFuture, PreparedRoutes};

const CHECK_PATH: &str = "/grpc.health.v1.Health/Check";
const WATCH_PATH: &str = "/grpc.health.v1.Health/Watch";

/// The health service's routes: Check and Watch read here, the generated server for the rest.
pub type HealthRoutes = PreparedRoutes<PreparedRoutes<HealthServer<HealthService>>>;

/// The health service answering with the statuses `reporter` sets, its requests read with cptkit's codec.
pub fn health_routes(reporter: HealthReporter, max_request_bytes: usize) -> HealthRoutes {
    let service = Arc::new(HealthService::from_health_reporter(reporter.clone()));
    let generated = HealthServer::new(HealthService::from_health_reporter(reporter));
    let grpc = move || {
        Grpc::new(Codec::<HealthCheckResponse, HealthCheckRequest>::default())
            .apply_max_message_size_config(Some(max_request_bytes), None)
    };
    let checks = Arc::clone(&service);
    let check = move |request| {
        let checks = Arc::clone(&checks);
        Box::pin(async move { grpc().unary(Check(checks), request).await }) as BoxFuture<_>
    };
    let watch = move |request| {
        let watches = Arc::clone(&service);
        Box::pin(async move { grpc().server_streaming(Watch(watches), request).await }) as BoxFuture<_>
    };
    PreparedRoutes::with_method(PreparedRoutes::with_method(generated, CHECK_PATH, check), WATCH_PATH, watch)
}

struct Check(Arc<HealthService>);

impl UnaryService<HealthCheckRequest> for Check {
    type Response = HealthCheckResponse;
    type Future = BoxFuture<Result<Response<HealthCheckResponse>, Status>>;

    fn call(&mut self, request: Request<HealthCheckRequest>) -> Self::Future {
        let service = Arc::clone(&self.0);
        Box::pin(async move { service.check(request).await })
    }
}

struct Watch(Arc<HealthService>);

impl ServerStreamingService<HealthCheckRequest> for Watch {
    type Response = HealthCheckResponse;
    type ResponseStream = WatchStream;
    type Future = BoxFuture<Result<Response<WatchStream>, Status>>;

    fn call(&mut self, request: Request<HealthCheckRequest>) -> Self::Future {
        let service = Arc::clone(&self.0);
        Box::pin(async move { service.watch(request).await })
    }
}
