//! GetCode from prepared bytes.
//!
//! A code profile is ~20 KB of protobuf assembled from many tables; assembling, converting and
//! encoding it costs ~30 us per request, several times an Echo. The data only changes by a reload,
//! which brings its own prepared responses ([`crate::ServerData`]), so the encoded response for the default options (no locality rows) is
//! built once per code, on its first request, and sent as is afterwards. Requests with localities
//! are assembled per request.
//!
//! The generated `CodeServiceServer` can only send `pb::GetCodeResponse` values, so
//! [`CodeServiceRoutes`] answers the GetCode path itself (with tonic's own unary machinery and a codec
//! whose encoder writes prepared bytes) and hands every other path to the generated server. The bytes
//! on the wire are exactly what encoding the message would give. [`PreparedRoutes`] does the same for
//! ClaimService's ProcessClaims, whose answers are encoded by the workers that judge them.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use bytes::{BufMut, Bytes};
use cptkit_core::{CptCode, Reference};
use cptkit_proto::codec::MessageDecoder;
use cptkit_proto::pb;
use cptkit_proto::pb::code_service_server::CodeServiceServer;
use prost::Message as _;
use tonic::codec::{BufferSettings, Codec, Decoder, EncodeBuf, Encoder};
use tonic::server::NamedService;
use tonic::{Request, Response, Status};

use crate::service::CodeServiceImpl;
use crate::view::Fields;

const GET_CODE_PATH: &str = "/cptkit.v1.CodeService/GetCode";

/// Encoded `GetCodeResponse`s for the default options, filled on first use; one slot per known code
/// (about 17,000 slots of a few dozen bytes each until filled): the full answer, and the BASIC view.
#[derive(Debug, Default)]
pub(crate) struct PreparedProfiles(BTreeMap<CptCode, Slot>);

#[derive(Debug, Default)]
struct Slot {
    full: OnceLock<Bytes>,
    basic: OnceLock<Bytes>,
}

impl PreparedProfiles {
    pub(crate) fn new(codes: impl Iterator<Item = CptCode>) -> Self {
        PreparedProfiles(codes.map(|code| (code, Slot::default())).collect())
    }

    /// One slot per code GetCode answers: every anesthesia and fee schedule code. Should the fee
    /// schedule not read, its codes are assembled per request (and answer with the reading error).
    pub(crate) fn for_reference(reference: &Reference) -> Self {
        match reference.code_summaries() {
            Ok(all) => PreparedProfiles::new(all.map(|s| s.code)),
            Err(_) => PreparedProfiles::new(reference.codes().map(|c| c.code)),
        }
    }

    /// The prepared answer for `code` with `fields`, building the full one with `build` the first time.
    pub(crate) fn get_or_build(
        &self,
        code: CptCode,
        fields: &Fields,
        build: impl FnOnce() -> Result<pb::GetCodeResponse, Status>,
    ) -> Result<Bytes, Status> {
        // Not a known code: `build` gives the NOT_FOUND status.
        let Some(slot) = self.0.get(&code) else {
            return fields.apply(&build()?.encode_to_vec().into());
        };
        // Two first requests may race; both built the same bytes.
        let full = match slot.full.get() {
            Some(bytes) => bytes.clone(),
            None => {
                let bytes = Bytes::from(build()?.encode_to_vec());
                slot.full.get_or_init(|| bytes).clone()
            }
        };
        match fields {
            Fields::All => Ok(full),
            Fields::Basic => match slot.basic.get() {
                Some(bytes) => Ok(bytes.clone()),
                None => {
                    let bytes = fields.apply(&full)?;
                    Ok(slot.basic.get_or_init(|| bytes).clone())
                }
            },
            Fields::Only(_) => fields.apply(&full),
        }
    }
}

/// A generated service with one method answered from prepared bytes: requests for `path` go to
/// `method` (tonic's own server machinery with a [`PreparedCodec`]), every other path to the
/// generated server. Cheap to clone.
#[derive(Clone)]
pub struct PreparedRoutes<G> {
    generated: G,
    path: &'static str,
    method: Arc<dyn Fn(http::Request<tonic::body::Body>) -> BoxFuture<http::Response<tonic::body::Body>> + Send + Sync>,
}

impl<G> std::fmt::Debug for PreparedRoutes<G> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedRoutes").field("path", &self.path).finish_non_exhaustive()
    }
}

/// The CodeService routes: GetCode from [`CodeServiceImpl::get_code_encoded`], the rest from the
/// generated server.
pub type CodeServiceRoutes = PreparedRoutes<CodeServiceServer<CodeServiceImpl>>;

impl CodeServiceRoutes {
    pub fn new(codes: CodeServiceImpl, max_request_bytes: usize) -> Self {
        let generated = CodeServiceServer::new(codes.clone()).max_decoding_message_size(max_request_bytes);
        let codes = Arc::new(codes);
        let method = move |request| {
            let method = GetCode(Arc::clone(&codes));
            Box::pin(async move {
                let mut grpc = tonic::server::Grpc::new(PreparedCodec::<MessageDecoder<pb::GetCodeRequest>>::default())
                    .apply_max_message_size_config(Some(max_request_bytes), None);
                grpc.unary(method, request).await
            }) as BoxFuture<_>
        };
        PreparedRoutes::with_method(generated, GET_CODE_PATH, method)
    }
}

impl<G> PreparedRoutes<G> {
    /// `generated`, with requests for `path` answered by `method`.
    pub(crate) fn with_method(
        generated: G,
        path: &'static str,
        method: impl Fn(http::Request<tonic::body::Body>) -> BoxFuture<http::Response<tonic::body::Body>>
        + Send
        + Sync
        + 'static,
    ) -> Self {
        PreparedRoutes { generated, path, method: Arc::new(method) }
    }
}

impl<G: NamedService> NamedService for PreparedRoutes<G> {
    const NAME: &'static str = G::NAME;
}

pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

impl<G> tower::Service<http::Request<tonic::body::Body>> for PreparedRoutes<G>
where
    G: tower::Service<
            http::Request<tonic::body::Body>,
            Response = http::Response<tonic::body::Body>,
            Error = Infallible,
            Future = BoxFuture<Result<http::Response<tonic::body::Body>, Infallible>>,
        >,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        if request.uri().path() != self.path {
            return self.generated.call(request);
        }
        let answer = (self.method)(request);
        Box::pin(async move { Ok(answer.await) })
    }
}

struct GetCode(Arc<CodeServiceImpl>);

impl tonic::server::UnaryService<pb::GetCodeRequest> for GetCode {
    type Response = Bytes;
    type Future = BoxFuture<Result<Response<Bytes>, Status>>;

    fn call(&mut self, request: Request<pb::GetCodeRequest>) -> Self::Future {
        let codes = Arc::clone(&self.0);
        Box::pin(async move { codes.get_code_encoded(request).map(Response::new) })
    }
}

/// Decodes requests with `D` (a [`MessageDecoder`], as the generated servers do, or a pass-through);
/// encodes a response by writing its prepared bytes (one encoded message), so the bytes on the wire
/// are exactly what encoding the message would give.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PreparedCodec<D> {
    buffers: BufferSettings,
    decodes: PhantomData<fn() -> D>,
}

impl<D> Default for PreparedCodec<D> {
    fn default() -> Self {
        PreparedCodec { buffers: BufferSettings::default(), decodes: PhantomData }
    }
}

impl<D> PreparedCodec<D> {
    /// With tonic's response buffer of `size` bytes, handed to HTTP/2 once it holds `yield_at` bytes
    /// (or the response stream has nothing more ready).
    pub(crate) fn with_buffers(size: usize, yield_at: usize) -> Self {
        PreparedCodec { buffers: BufferSettings::new(size, yield_at), decodes: PhantomData }
    }
}

impl<D> Codec for PreparedCodec<D>
where
    D: Decoder<Error = Status> + Default + Send + 'static,
    D::Item: Send + 'static,
{
    type Encode = Bytes;
    type Decode = D::Item;
    type Encoder = PreparedEncoder;
    type Decoder = D;

    fn encoder(&mut self) -> Self::Encoder {
        PreparedEncoder(self.buffers)
    }

    fn decoder(&mut self) -> Self::Decoder {
        D::default()
    }
}

/// Writes prepared bytes as they are.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PreparedEncoder(BufferSettings);

impl Encoder for PreparedEncoder {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }

    fn buffer_settings(&self) -> BufferSettings {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use cptkit_core::RuleBook;
    use cptkit_proto::pb::code_service_server::CodeService as _;

    use super::*;
    use crate::data::{DataStore, ServerData};

    fn embedded() -> CodeServiceImpl {
        let data =
            ServerData::new(Reference::embedded().into(), Arc::new(RuleBook::embedded().clone()), Arc::default());
        CodeServiceImpl::new(DataStore::new(data))
    }

    fn get_code(code: &str, localities: &[&str]) -> Request<pb::GetCodeRequest> {
        let localities = localities.iter().map(|l| (*l).to_owned()).collect();
        Request::new(pb::GetCodeRequest { code: code.to_owned(), localities, ..Default::default() })
    }

    #[tokio::test]
    async fn prepared_bytes_are_the_encoded_response() {
        let codes = embedded();
        for localities in [&[][..], &["13202-01"][..]] {
            let message = codes.get_code(get_code("00632", localities)).await.expect("message").into_inner();
            let first = codes.get_code_encoded(get_code("00632", localities)).expect("first");
            let again = codes.get_code_encoded(get_code("00632", localities)).expect("again");
            assert_eq!(first, message.encode_to_vec(), "{localities:?}");
            assert_eq!(again, first);
        }
    }

    #[test]
    fn errors_are_the_same_statuses() {
        let codes = embedded();
        let status = codes.get_code_encoded(get_code("00101", &[])).expect_err("unknown");
        assert_eq!(status.code(), tonic::Code::NotFound);
        let status = codes.get_code_encoded(get_code("0063", &[])).expect_err("malformed");
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
    }
}
