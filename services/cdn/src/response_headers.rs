//! Response headers policies (CORS, security and custom headers). A
//! pass-through until the real policies land: responses keep the origin's
//! headers and no preflight is answered at the edge.

use http::{HeaderMap, Method};

use crate::site::ResponseHeadersPolicy;

/// Adds, replaces and removes the headers `policy` names on a response to
/// a request with `request_headers`.
pub fn apply(_policy: &ResponseHeadersPolicy, _request_headers: &HeaderMap, _response_headers: &mut HeaderMap) {}

/// The answer to a CORS preflight the policy answers itself, if any.
pub fn preflight(
    _policy: &ResponseHeadersPolicy,
    _method: &Method,
    _request_headers: &HeaderMap,
) -> Option<http::Response<()>> {
    None
}
