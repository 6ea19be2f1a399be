//! `cptkit.v1.CodeService`: parse each request into core values, call the core, convert back.
//! No domain logic lives here.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use cptkit_core::{CptCode, Icd10Code, ModifierCode, PosCode, ProfileOptions, Reference, TaxonomyCode};
use cptkit_proto::pb;
use cptkit_proto::pb::code_service_server::CodeService;
use prost::Message as _;
use tonic::{Request, Response, Status};

use crate::access_log::RequestLog;
use crate::data::{DataStore, ServerData};
use crate::prepared::Framed;
use crate::status::to_status;
use crate::view::Fields;

/// The reference data the server answers from: the embedded set (`&'static`) or one loaded from a
/// data directory. Cheap to clone.
#[derive(Clone)]
pub struct SharedReference(Shared);

#[derive(Clone)]
enum Shared {
    Static(&'static Reference),
    Loaded(Arc<Reference>),
}

impl Deref for SharedReference {
    type Target = Reference;

    fn deref(&self) -> &Reference {
        match &self.0 {
            Shared::Static(reference) => reference,
            Shared::Loaded(reference) => reference,
        }
    }
}

impl fmt::Debug for SharedReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = match &self.0 {
            Shared::Static(_) => "static",
            Shared::Loaded(_) => "loaded",
        };
        f.debug_struct("SharedReference").field("source", &source).finish_non_exhaustive()
    }
}

impl From<&'static Reference> for SharedReference {
    fn from(reference: &'static Reference) -> Self {
        SharedReference(Shared::Static(reference))
    }
}

impl From<Arc<Reference>> for SharedReference {
    fn from(reference: Arc<Reference>) -> Self {
        SharedReference(Shared::Loaded(reference))
    }
}

impl From<Reference> for SharedReference {
    fn from(reference: Reference) -> Self {
        Arc::new(reference).into()
    }
}

/// Core results become statuses through the one mapping in [`crate::status`].
trait OrStatus<T> {
    fn or_status(self) -> Result<T, Status>;
}

impl<T> OrStatus<T> for cptkit_core::Result<T> {
    fn or_status(self) -> Result<T, Status> {
        self.map_err(|error| to_status(&error))
    }
}

/// Parses a code from a request field, and names it for the access log once it is well-formed.
fn requested<T>(extensions: &http::Extensions, raw: &str) -> Result<T, Status>
where
    T: std::str::FromStr<Err = cptkit_core::Error> + fmt::Display,
{
    let code = raw.parse::<T>().or_status()?;
    RequestLog::record_code(extensions, &code);
    Ok(code)
}

/// The CodeService handlers, over the current [`ServerData`]. Serve it through
/// [`crate::CodeServiceRoutes`], which sends GetCode responses from prepared bytes; mounted as a plain
/// `CodeServiceServer` it answers the same.
#[derive(Debug, Clone)]
pub struct CodeServiceImpl {
    store: DataStore,
}

impl CodeServiceImpl {
    pub fn new(store: DataStore) -> Self {
        CodeServiceImpl { store }
    }

    /// GetCode's request, parsed: the code (named for the access log), the profile options and the
    /// profile fields asked for (`view`, `read_mask`).
    fn get_code_request(request: Request<pb::GetCodeRequest>) -> Result<(CptCode, ProfileOptions, Fields), Status> {
        let (_, extensions, pb::GetCodeRequest { code, localities, view, read_mask }) = request.into_parts();
        let code: CptCode = requested(&extensions, &code)?;
        let options = ProfileOptions { localities: cptkit_proto::locality_selection(localities).or_status()? };
        Ok((code, options, Fields::of(view, read_mask.as_ref())?))
    }

    fn get_code_response(
        data: &ServerData,
        code: CptCode,
        options: &ProfileOptions,
    ) -> Result<pb::GetCodeResponse, Status> {
        let profile = data.reference().profile_with(code, options, &data.benchmarks).or_status()?;
        Ok(pb::GetCodeResponse { profile: Some(profile.into()) })
    }

    /// GetCode, answered with the encoded `GetCodeResponse` framed for the wire: prepared once per
    /// code (full and BASIC) for the default options, assembled per request otherwise.
    pub(crate) fn get_code_framed(&self, request: Request<pb::GetCodeRequest>) -> Result<Framed, Status> {
        let (code, options, fields) = Self::get_code_request(request)?;
        let data = self.store.current();
        if options == ProfileOptions::default() {
            data.prepared.get_or_build(code, &fields, || Self::get_code_response(&data, code, &options))
        } else {
            fields.framed_with_localities(Self::get_code_response(&data, code, &options)?)
        }
    }
}

#[tonic::async_trait]
impl CodeService for CodeServiceImpl {
    async fn get_code(&self, request: Request<pb::GetCodeRequest>) -> Result<Response<pb::GetCodeResponse>, Status> {
        let framed = self.get_code_framed(request)?;
        let response = pb::GetCodeResponse::decode(framed.message()).map_err(|e| Status::internal(e.to_string()))?;
        Ok(Response::new(response))
    }

    async fn search_codes(
        &self,
        request: Request<pb::SearchCodesRequest>,
    ) -> Result<Response<pb::SearchCodesResponse>, Status> {
        let (query, page) = cptkit_proto::code_query(request.into_inner()).or_status()?;
        let cptkit_core::Page { items, next_page_token, total_size } =
            self.store.current().reference().search_codes(&query, &page).or_status()?;
        Ok(Response::new(pb::SearchCodesResponse {
            codes: items.into_iter().map(Into::into).collect(),
            next_page_token,
            total_size,
        }))
    }

    async fn list_codes(
        &self,
        request: Request<pb::ListCodesRequest>,
    ) -> Result<Response<pb::ListCodesResponse>, Status> {
        let pb::ListCodesRequest { page } = request.into_inner();
        let page = cptkit_proto::page_request(page);
        let cptkit_core::Page { items, next_page_token, total_size } =
            self.store.current().reference().list_codes(&page).or_status()?;
        Ok(Response::new(pb::ListCodesResponse {
            codes: items.into_iter().map(Into::into).collect(),
            next_page_token,
            total_size,
        }))
    }

    async fn get_modifier(
        &self,
        request: Request<pb::GetModifierRequest>,
    ) -> Result<Response<pb::GetModifierResponse>, Status> {
        let (_, extensions, pb::GetModifierRequest { code }) = request.into_parts();
        let code: ModifierCode = requested(&extensions, &code)?;
        let modifier = self.store.current().reference().modifier(code).or_status()?.clone();
        Ok(Response::new(pb::GetModifierResponse { modifier: Some(modifier.into()) }))
    }

    async fn get_diagnosis(
        &self,
        request: Request<pb::GetDiagnosisRequest>,
    ) -> Result<Response<pb::GetDiagnosisResponse>, Status> {
        let (_, extensions, pb::GetDiagnosisRequest { code }) = request.into_parts();
        let code: Icd10Code = requested(&extensions, &code)?;
        let diagnosis = self.store.current().reference().diagnosis(&code).or_status()?;
        Ok(Response::new(pb::GetDiagnosisResponse { diagnosis: Some(diagnosis.into()) }))
    }

    async fn get_taxonomy(
        &self,
        request: Request<pb::GetTaxonomyRequest>,
    ) -> Result<Response<pb::GetTaxonomyResponse>, Status> {
        let (_, extensions, pb::GetTaxonomyRequest { code }) = request.into_parts();
        let code: TaxonomyCode = requested(&extensions, &code)?;
        let taxonomy = self.store.current().reference().taxonomy(&code).or_status()?.clone();
        Ok(Response::new(pb::GetTaxonomyResponse { taxonomy: Some(taxonomy.into()) }))
    }

    async fn get_place_of_service(
        &self,
        request: Request<pb::GetPlaceOfServiceRequest>,
    ) -> Result<Response<pb::GetPlaceOfServiceResponse>, Status> {
        let (_, extensions, pb::GetPlaceOfServiceRequest { code }) = request.into_parts();
        let code: PosCode = requested(&extensions, &code)?;
        let place = self.store.current().reference().place_of_service(&code).or_status()?.clone();
        Ok(Response::new(pb::GetPlaceOfServiceResponse { place_of_service: Some(place.into()) }))
    }

    async fn get_benchmarks(
        &self,
        request: Request<pb::GetBenchmarksRequest>,
    ) -> Result<Response<pb::GetBenchmarksResponse>, Status> {
        let (_, extensions, request) = request.into_parts();
        let (code, filter) = cptkit_proto::benchmarks_request(request).or_status()?;
        RequestLog::record_code(&extensions, &code);
        let data = self.store.current();
        let rows = data.benchmarks.query(data.reference(), code, &filter).or_status()?;
        Ok(Response::new(pb::GetBenchmarksResponse { benchmarks: rows.into_iter().map(Into::into).collect() }))
    }

    async fn echo(&self, request: Request<pb::EchoRequest>) -> Result<Response<pb::EchoResponse>, Status> {
        let pb::EchoRequest { payload } = request.into_inner();
        Ok(Response::new(pb::EchoResponse { payload }))
    }
}
