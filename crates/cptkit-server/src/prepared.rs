//! GetCode from prepared bytes.
//!
//! A code profile is ~20 KB of protobuf assembled from many tables; assembling, converting and encoding
//! it costs ~30 us per request, several times an Echo. The data only changes by a reload, which brings
//! its own prepared responses ([`crate::ServerData`]), so the encoded response for the default options
//! (no locality rows) is built once per code, on its first request, framed for the wire, and sent as is
//! afterwards. Requests with localities are assembled per request.
//!
//! The generated `CodeServiceServer` can only send `pb::GetCodeResponse` values, so [`CodeServiceRoutes`]
//! answers the GetCode path itself and hands every other path to the generated server. It reads the
//! request with tonic's own decoding ([`tonic::codec::Streaming`]) and answers with a body that hands h2
//! the prepared bytes themselves. tonic's encoder would copy them, on every answer, into a fresh buffer
//! grown to hold them: without that copy a FULL answer is 10-15% faster. A compressed request goes to
//! tonic's unary machinery instead, to be refused as tonic refuses it. The bytes on the wire are exactly
//! what encoding the message would give. [`PreparedRoutes`] also serves ClaimService's ProcessClaims,
//! whose answers are encoded by the workers that judge them.

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
    full: OnceLock<Framed>,
    basic: OnceLock<Framed>,
}

/// An encoded message after its gRPC prefix (not compressed; its length), as it goes on the wire:
/// a prepared answer is framed once, so sending it copies nothing.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Framed(Bytes);

impl Framed {
    const PREFIX: usize = 5;

    pub(crate) fn new(message: &[u8]) -> Result<Framed, Status> {
        let length =
            u32::try_from(message.len()).map_err(|_| Status::internal("an answer is too long for one gRPC message"))?;
        let mut framed = Vec::with_capacity(Self::PREFIX + message.len());
        framed.put_u8(0);
        framed.put_u32(length);
        framed.put_slice(message);
        Ok(Framed(framed.into()))
    }

    /// The encoded message alone (shares the bytes).
    pub(crate) fn message(&self) -> Bytes {
        self.0.slice(Self::PREFIX..)
    }
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
    ) -> Result<Framed, Status> {
        // Not a known code: `build` gives the NOT_FOUND status.
        let Some(slot) = self.0.get(&code) else {
            return fields.framed(&build()?.encode_to_vec().into());
        };
        // Two first requests may race; both built the same bytes.
        let full = match slot.full.get() {
            Some(framed) => framed.clone(),
            None => {
                let framed = Framed::new(&build()?.encode_to_vec())?;
                slot.full.get_or_init(|| framed).clone()
            }
        };
        match fields {
            Fields::All => Ok(full),
            Fields::Basic => match slot.basic.get() {
                Some(framed) => Ok(framed.clone()),
                None => {
                    let framed = fields.framed(&full.message())?;
                    Ok(slot.basic.get_or_init(|| framed).clone())
                }
            },
            Fields::Only(_) => fields.framed(&full.message()),
        }
    }
}

/// A generated service with one method answered from prepared bytes: requests for `path` go to
/// `method` (tonic's own server machinery with a [`PreparedCodec`], or another codec such as the
/// health service's), every other path to the generated server. Cheap to clone.
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
        let method = move |request: http::Request<tonic::body::Body>| {
            let codes = Arc::clone(&codes);
            Box::pin(async move {
                if !uncompressed(&request) {
                    // tonic's own machinery answers what it makes of a compressed request.
                    let mut grpc =
                        tonic::server::Grpc::new(PreparedCodec::<MessageDecoder<pb::GetCodeRequest>>::default())
                            .apply_max_message_size_config(Some(max_request_bytes), None);
                    return grpc.unary(GetCode(codes), request).await;
                }
                match unary_request(request, max_request_bytes).await.and_then(|r| codes.get_code_framed(r)) {
                    Ok(framed) => PreparedBody::response(framed),
                    Err(status) => status.into_http(),
                }
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

/// Whether a request's message comes uncompressed (no `grpc-encoding`, or `identity`).
fn uncompressed<B>(request: &http::Request<B>) -> bool {
    request.headers().get("grpc-encoding").is_none_or(|encoding| encoding == "identity")
}

/// The one message of an uncompressed unary request, read as tonic's unary machinery reads it.
async fn unary_request<M: prost::Message + Default + Send + 'static>(
    request: http::Request<tonic::body::Body>,
    max_request_bytes: usize,
) -> Result<Request<M>, Status> {
    let (parts, body) = request.into_parts();
    let mut stream =
        tonic::codec::Streaming::new_request(MessageDecoder::<M>::default(), body, None, Some(max_request_bytes));
    let message = stream.message().await?.ok_or_else(|| Status::internal("Missing request message."))?;
    // Read to the end, as tonic does, so a broken end of the stream is an error; the methods
    // answered here read no metadata, so the trailers themselves are not kept.
    stream.trailers().await?;
    Ok(Request::from_http(http::Request::from_parts(parts, message)))
}

/// A unary answer sent from its prepared bytes as they are, without the copy into an encode buffer
/// that tonic's encoder makes: the framed message, then the OK trailers.
struct PreparedBody {
    message: Option<Framed>,
    ended: bool,
}

impl PreparedBody {
    fn response(message: Framed) -> http::Response<tonic::body::Body> {
        let body = PreparedBody { message: Some(message), ended: false };
        let mut response = http::Response::new(tonic::body::Body::new(body));
        *response.version_mut() = http::Version::HTTP_2;
        response.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/grpc"));
        response
    }
}

impl http_body::Body for PreparedBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Status>>> {
        let this = self.get_mut();
        let frame = match this.message.take() {
            Some(Framed(data)) => http_body::Frame::data(data),
            None if this.ended => return Poll::Ready(None),
            None => {
                this.ended = true;
                let mut trailers = http::HeaderMap::with_capacity(1);
                Status::ok("").add_header(&mut trailers)?;
                http_body::Frame::trailers(trailers)
            }
        };
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.ended
    }
}

struct GetCode(Arc<CodeServiceImpl>);

impl tonic::server::UnaryService<pb::GetCodeRequest> for GetCode {
    type Response = Bytes;
    type Future = BoxFuture<Result<Response<Bytes>, Status>>;

    fn call(&mut self, request: Request<pb::GetCodeRequest>) -> Self::Future {
        let codes = Arc::clone(&self.0);
        Box::pin(async move { codes.get_code_framed(request).map(|framed| Response::new(framed.message())) })
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
            let first = codes.get_code_framed(get_code("00632", localities)).expect("first");
            let again = codes.get_code_framed(get_code("00632", localities)).expect("again");
            assert_eq!(first.message(), message.encode_to_vec(), "{localities:?}");
            assert_eq!(first, Framed::new(&message.encode_to_vec()).expect("framed"));
            assert_eq!(again, first);
        }
    }

    /// Every code the server knows answers BASIC (national amounts) within 4 KB: one system call with
    /// its headers and trailers, well under one 16 KB HTTP/2 frame (the README's figure: under 2.7 KB).
    #[test]
    fn every_basic_view_fits_well_under_one_frame() {
        let codes = embedded();
        let (mut page, mut largest, mut seen) = (cptkit_core::PageRequest::default(), (0, String::new()), 0);
        page.page_size = cptkit_core::MAX_PAGE_SIZE;
        loop {
            let found = Reference::embedded().search_codes(&cptkit_core::CodeQuery::default(), &page).expect("page");
            for summary in &found.items {
                let mut request = get_code(summary.code.as_str(), &[]);
                request.get_mut().view = pb::CodeView::Basic.into();
                let size = codes.get_code_framed(request).expect("BASIC").message().len();
                largest = largest.max((size, summary.code.to_string()));
                seen += 1;
            }
            if found.next_page_token.is_empty() {
                break;
            }
            page.page_token = found.next_page_token;
        }
        assert!(seen > 16_000, "{seen} codes");
        assert!(largest.0 < 4 * 1024, "{largest:?}");
    }

    #[test]
    fn errors_are_the_same_statuses() {
        let codes = embedded();
        let status = codes.get_code_framed(get_code("00101", &[])).expect_err("unknown");
        assert_eq!(status.code(), tonic::Code::NotFound);
        let status = codes.get_code_framed(get_code("0063", &[])).expect_err("malformed");
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
    }
}
