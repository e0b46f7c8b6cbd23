//! Several non-S3 routes behind s3s's single custom-route slot: each request goes to
//! the first route that matches it.

use http::{HeaderMap, Method, Uri};
use s3s::route::S3Route;
use s3s::{Body, S3Request, S3Response, S3Result, s3_error};

/// Routes tried in order.
pub(crate) struct Routes(pub(crate) Vec<Box<dyn S3Route>>);

impl Routes {
    fn find(&self, request: &mut S3Request<Body>) -> Option<&dyn S3Route> {
        let (method, uri, headers) = (request.method.clone(), request.uri.clone(), request.headers.clone());
        self.0.iter().map(AsRef::as_ref).find(|route| route.is_match(&method, &uri, &headers, &mut request.extensions))
    }
}

#[async_trait::async_trait]
impl S3Route for Routes {
    fn is_match(&self, method: &Method, uri: &Uri, headers: &HeaderMap, extensions: &mut http::Extensions) -> bool {
        self.0.iter().any(|route| route.is_match(method, uri, headers, extensions))
    }

    async fn check_access(&self, request: &mut S3Request<Body>) -> S3Result<()> {
        match self.find(request) {
            Some(route) => route.check_access(request).await,
            None => Err(s3_error!(NotImplemented)),
        }
    }

    async fn call(&self, mut request: S3Request<Body>) -> S3Result<S3Response<Body>> {
        match self.find(&mut request) {
            Some(route) => route.call(request).await,
            None => Err(s3_error!(NotImplemented)),
        }
    }
}
