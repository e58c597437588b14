//! What the attributes' expansion contributes to an operation: its parameters, request body and
//! success response, read off the handler's argument and return types.
//!
//! The expansion calls `(&&&Probe::<ArgType>::new()).describe_arg(doc)` for every argument. Method
//! resolution picks the most specific impl that applies ("autoref specialization", which works
//! because the types are concrete at the call): a `Json<T>` whose `T: ToSchema` documents its
//! schema; a `Json<T>` without one still documents the body, with an open schema; an argument
//! that is not an input (`Principal`, `State`) documents nothing.

use std::marker::PhantomData;

use utoipa::ToSchema;
use utoipa::openapi::Content;
use utoipa::openapi::path::ParameterIn;

/// The media type of JSON bodies.
pub(crate) const JSON: &str = "application/json";
/// The media type of form bodies.
pub(crate) const FORM: &str = "application/x-www-form-urlencoded";

pub use crate::vocabulary::contract::operation::OperationDoc;
use crate::vocabulary::contract::operation::any_value;

/// The probe the expansion calls methods on (autoref specialization: the most specific of
/// `DescribeTyped`, `DescribeUntyped` and `DescribeNothing` applies).
pub struct Probe<T: ?Sized>(PhantomData<T>);

impl<T: ?Sized> Probe<T> {
    /// A probe for `T`.
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        Self(PhantomData)
    }
}

/// Most specific: inputs whose types document themselves.
pub trait DescribeTyped {
    /// Adds what the argument (or response) contributes.
    fn describe(&self, doc: &mut OperationDoc);
}

/// Inputs whose types do not document themselves: documented with an open schema.
pub trait DescribeUntyped {
    /// Adds what the argument (or response) contributes.
    fn describe(&self, doc: &mut OperationDoc);
}

/// Everything else (`Principal`, `State`, ...): contributes nothing.
pub trait DescribeNothing {
    /// Contributes nothing.
    fn describe(&self, doc: &mut OperationDoc);
}

impl<T: ?Sized> DescribeNothing for Probe<T> {
    fn describe(&self, _: &mut OperationDoc) {}
}

/// Describes request bodies of the given extractors (`Extractor<T> => media type`): with `T`'s
/// schema when it has one, as an open body when not. Invoked here for axum's extractors and in
/// [`crate::extract`] for Rampart's, which know their description rather than this model them.
macro_rules! bodies {
    ($($extractor:ty => $media:expr),* $(,)?) => {$(
        impl<T: ::utoipa::ToSchema> $crate::openapi::describe::DescribeTyped
            for &&$crate::openapi::describe::Probe<$extractor>
        {
            fn describe(&self, doc: &mut $crate::openapi::describe::OperationDoc) {
                let schema = doc.schema_of::<T>();
                doc.body($media, schema);
            }
        }
        impl<T> $crate::openapi::describe::DescribeUntyped for &$crate::openapi::describe::Probe<$extractor> {
            fn describe(&self, doc: &mut $crate::openapi::describe::OperationDoc) {
                doc.open_body($media);
            }
        }
    )*};
}
pub(crate) use bodies;

bodies! {
    axum::Json<T> => JSON,
    axum::Form<T> => FORM,
}

/// Describes the parameters of the given extractors (`Extractor<T> => location`), from `T`'s
/// `IntoParams`.
macro_rules! params {
    ($($extractor:ty => $location:expr),* $(,)?) => {$(
        impl<T: ::utoipa::IntoParams> $crate::openapi::describe::DescribeTyped
            for &&$crate::openapi::describe::Probe<$extractor>
        {
            fn describe(&self, doc: &mut $crate::openapi::describe::OperationDoc) {
                doc.params::<T>($location);
            }
        }
        // Without `IntoParams`, each property of `T`'s schema is one parameter.
        impl<T: ::utoipa::ToSchema> $crate::openapi::describe::DescribeUntyped
            for &$crate::openapi::describe::Probe<$extractor>
        {
            fn describe(&self, doc: &mut $crate::openapi::describe::OperationDoc) {
                doc.params_from_schema::<T>($location);
            }
        }
    )*};
}
pub(crate) use params;

params! {
    axum::extract::Query<T> => ParameterIn::Query,
}

/// Describes path parameters of the given extractors: from `T`'s `IntoParams`, or as one
/// parameter of `T`'s schema.
macro_rules! path_params {
    ($($extractor:ty),* $(,)?) => {$(
        impl<T: ::utoipa::IntoParams> $crate::openapi::describe::DescribeTyped
            for &&$crate::openapi::describe::Probe<$extractor>
        {
            fn describe(&self, doc: &mut $crate::openapi::describe::OperationDoc) {
                doc.params::<T>(::utoipa::openapi::path::ParameterIn::Path);
            }
        }
        impl<T: ::utoipa::PartialSchema> $crate::openapi::describe::DescribeUntyped
            for &$crate::openapi::describe::Probe<$extractor>
        {
            fn describe(&self, doc: &mut $crate::openapi::describe::OperationDoc) {
                doc.path_schema(T::schema());
            }
        }
    )*};
}
pub(crate) use path_params;

path_params! {
    axum::extract::Path<T>,
}

/// The success response's body, from a `Json<T>` found in the handler's return type.
pub struct Response<T: ?Sized>(PhantomData<T>);

impl<T: ToSchema> DescribeTyped for &&Probe<Response<T>> {
    fn describe(&self, doc: &mut OperationDoc) {
        let schema = doc.schema_of::<T>();
        doc.response = Some(Content::new(Some(schema)));
    }
}

impl<T> DescribeUntyped for &Probe<Response<T>> {
    fn describe(&self, doc: &mut OperationDoc) {
        doc.response = Some(Content::new(Some(any_value())));
    }
}

/// A handler's return type that documents the responses it produces itself: the success body
/// and media type, error statuses with their own schemas (an RFC 6749 error, a 404 for an unknown
/// file...), and the request body when the handler reads it raw. `Result<T, E>` documents what
/// `T` does.
///
/// ```
/// use rampart::openapi::{DescribeResponse, OperationDoc};
/// use utoipa::openapi::{RefOr, Ref, Response};
///
/// /// A file, or 404.
/// struct StaticFile(Vec<u8>);
///
/// impl DescribeResponse for StaticFile {
///     fn describe_response(doc: &mut OperationDoc) {
///         doc.response(404, RefOr::Ref(Ref::from_response_name("NotFound")));
///     }
/// }
/// ```
pub trait DescribeResponse {
    /// Adds what this type contributes to the operation.
    fn describe_response(doc: &mut OperationDoc);
}

impl<T: DescribeResponse, E> DescribeResponse for Result<T, E> {
    fn describe_response(doc: &mut OperationDoc) {
        T::describe_response(doc);
    }
}

/// The handler's whole return type, for [`DescribeResponse`].
pub struct Returns<T: ?Sized>(PhantomData<T>);

impl<T: DescribeResponse> DescribeTyped for &&Probe<Returns<T>> {
    fn describe(&self, doc: &mut OperationDoc) {
        T::describe_response(doc);
    }
}
