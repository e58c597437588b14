//! The orders service at the base revision: two secured routes.
use axum::extract::Path;
use rampart::prelude::*;

/// List orders.
#[secure(get, path = "/orders", scope = "orders:read", rate = "100/min", timeout = "5s", auth = ["bearer"])]
pub async fn list_orders() -> &'static str {
    "[]"
}

/// Change an order.
#[secure(put, path = "/orders/{id}", all(scope = "orders:write", role = "admin"), rate = "10/min")]
pub async fn update_order(Path(id): Path<u64>) -> String {
    id.to_string()
}

/// Every endpoint.
pub fn router() -> Router {
    Router::new().mount(list_orders).mount(update_order)
}
