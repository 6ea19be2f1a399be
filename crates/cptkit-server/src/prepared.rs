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
//! on the wire are exactly what encoding the message would give.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use bytes::{BufMut, Bytes};
use cptkit_core::{CptCode, Reference};
use cptkit_proto::codec::MessageDecoder;
use cptkit_proto::pb;
use cptkit_proto::pb::code_service_server::CodeServiceServer;
use prost::Message as _;
use tonic::codec::{Codec, EncodeBuf, Encoder};
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

/// The CodeService routes: GetCode from [`CodeServiceImpl::get_code_encoded`], the rest from the
/// generated server.
#[derive(Debug, Clone)]
pub struct CodeServiceRoutes {
    codes: Arc<CodeServiceImpl>,
    generated: CodeServiceServer<CodeServiceImpl>,
    max_request_bytes: usize,
}

impl CodeServiceRoutes {
    pub fn new(codes: CodeServiceImpl, max_request_bytes: usize) -> Self {
        let generated = CodeServiceServer::new(codes.clone()).max_decoding_message_size(max_request_bytes);
        CodeServiceRoutes { codes: Arc::new(codes), generated, max_request_bytes }
    }
}

impl NamedService for CodeServiceRoutes {
    const NAME: &'static str = <CodeServiceServer<CodeServiceImpl> as NamedService>::NAME;
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

impl tower::Service<http::Request<tonic::body::Body>> for CodeServiceRoutes {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        if request.uri().path() != GET_CODE_PATH {
            return self.generated.call(request);
        }
        let method = GetCode(Arc::clone(&self.codes));
        let limit = self.max_request_bytes;
        Box::pin(async move {
            let mut grpc = tonic::server::Grpc::new(PreparedCodec).apply_max_message_size_config(Some(limit), None);
            Ok(grpc.unary(method, request).await)
        })
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

/// Decodes `GetCodeRequest`s as the generated server does; encodes a response by writing its prepared bytes.
#[derive(Debug, Clone, Copy, Default)]
struct PreparedCodec;

impl Codec for PreparedCodec {
    type Encode = Bytes;
    type Decode = pb::GetCodeRequest;
    type Encoder = PreparedCodec;
    type Decoder = MessageDecoder<pb::GetCodeRequest>;

    fn encoder(&mut self) -> Self::Encoder {
        PreparedCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        MessageDecoder::default()
    }
}

impl Encoder for PreparedCodec {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
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
