//! Helpers shared by the integration tests: keys, token forging, app builders, requests.
