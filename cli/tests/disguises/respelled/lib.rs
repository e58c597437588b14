//! The orders service at the base revision: two secured routes.
use axum::extract::Path;
use rampart::prelude::*;

/// List orders.
#[secure(get, path = "/orders", all(scope = "orders:read"), rate = "100 per minutes", timeout = "5000ms", auth = ["bearer"], body_limit = "64KiB")]
pub async fn list_orders() -> &'static str {
    "[]"
}

/// Change an order.
#[secure(put, path = "/orders/{id}", role = "admin", scope = "orders:write", rate = "10 per minute", burst = 10)]
pub async fn update_order(Path(id): Path<u64>) -> String {
    id.to_string()
}

/// Every endpoint.
pub fn router() -> Router {
    Router::new().mount(list_orders).mount(update_order)
}
