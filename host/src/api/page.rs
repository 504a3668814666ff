//! Pagination and filter query parameters.

use std::collections::HashMap;

use serde::Serialize;

use super::error::ApiError;

/// Largest page.
pub const MAX_PAGE_SIZE: i64 = 200;

/// `page` (from 1) and `pageSize` (1 to 200, default 50).
#[derive(Debug, Clone, Copy)]
pub struct Page {
    /// Page number, from 1.
    pub page: i64,
    /// Items per page.
    pub size: i64,
}

impl Page {
    /// Reads `page` and `pageSize`, naming the bad one.
    pub fn from_query(query: &HashMap<String, String>) -> Result<Self, ApiError> {
        let number = |name: &str, default: i64, max: i64| -> Result<i64, ApiError> {
            match query.get(name) {
                None => Ok(default),
                Some(v) => match v.parse::<i64>() {
                    Ok(n) if (1..=max).contains(&n) => Ok(n),
                    _ => Err(ApiError::bad_request(format!(
                        "query parameter `{name}` must be an integer from 1 to {max}, got {v:?}"
                    ))),
                },
            }
        };
        Ok(Self {
            page: number("page", 1, i64::from(u32::MAX))?,
            size: number("pageSize", 50, MAX_PAGE_SIZE)?,
        })
    }

    /// SQL offset.
    pub fn offset(&self) -> i64 {
        (self.page - 1) * self.size
    }
}

/// A page of results.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Paged<T> {
    /// The items.
    pub data: Vec<T>,
    /// Page number.
    pub page: i64,
    /// Page size.
    pub page_size: i64,
    /// Items over all pages.
    pub total: i64,
}

/// A status filter: `?status=` parsed as `T`, 400 naming the allowed values.
pub fn status_filter<T: std::str::FromStr<Err = String>>(
    query: &HashMap<String, String>,
) -> Result<Option<T>, ApiError> {
    query
        .get("status")
        .map(|s| s.parse::<T>().map_err(|e| ApiError::bad_request(format!("query parameter `status`: {e}"))))
        .transpose()
}
