//! What the attributes' expansion contributes to an operation: its parameters, request body and
//! success response, read off the handler's argument and return types.
//!
//! The expansion calls `(&&&Probe::<ArgType>::new()).describe_arg(doc)` for every argument. Method
//! resolution picks the most specific impl that applies ("autoref specialization", which works
//! because the types are concrete at the call): a `Json<T>` whose `T: ToSchema` documents its
//! schema; a `Json<T>` without one still documents the body, with an open schema; an argument
//! that is not an input (`Principal`, `State`) documents nothing.

use std::marker::PhantomData;

use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::openapi::request_body::RequestBody;
use utoipa::openapi::schema::{Object, Schema, SchemaType, Type};
use utoipa::openapi::{Content, Ref, RefOr, Required};
use utoipa::{IntoParams, ToSchema};

/// The media type of JSON bodies.
pub(crate) const JSON: &str = "application/json";
/// The media type of form bodies.
pub(crate) const FORM: &str = "application/x-www-form-urlencoded";

/// The parts of an operation that come from the handler's types.
#[derive(Default)]
pub struct OperationDoc {
    pub(crate) path_names: Vec<String>,
    pub(crate) parameters: Vec<Parameter>,
    pub(crate) request_body: Option<RequestBody>,
    pub(crate) body_media_type: Option<&'static str>,
    pub(crate) response: Option<Content>,
    pub(crate) response_media_type: Option<&'static str>,
    pub(crate) extra_responses: Vec<(String, RefOr<utoipa::openapi::Response>)>,
    pub(crate) schemas: Vec<(String, RefOr<Schema>)>,
}

impl OperationDoc {
    /// An empty description of an operation whose route template names `path_names`.
    pub(crate) fn new(path_names: Vec<String>) -> Self {
        Self { path_names, ..Self::default() }
    }

    /// A reference to `T`'s component when it is a named object type (the component is added to
    /// the document); its inline schema otherwise.
    pub fn schema_of<T: ToSchema>(&mut self) -> RefOr<Schema> {
        let schema = T::schema();
        T::schemas(&mut self.schemas);
        let named_object = matches!(&schema, RefOr::T(Schema::Object(Object { schema_type, .. }))
            if *schema_type == SchemaType::Type(Type::Object));
        if named_object {
            let name = T::name().into_owned();
            self.schemas.push((name.clone(), schema));
            RefOr::Ref(Ref::from_schema_name(name))
        } else {
            schema
        }
    }

    /// The success response's body: `schema` under `media_type`.
    pub fn success_body(&mut self, media_type: &'static str, schema: RefOr<Schema>) {
        self.response = Some(Content::new(Some(schema)));
        self.response_media_type = Some(media_type);
    }

    /// Another response the handler produces itself (it replaces Rampart's entry for the same
    /// status, if any).
    pub fn response(&mut self, status: u16, response: impl Into<RefOr<utoipa::openapi::Response>>) {
        self.extra_responses.push((status.to_string(), response.into()));
    }

    /// The request body, for a handler that reads it raw (`Bytes`) and parses it itself.
    pub fn request_body(&mut self, media_type: &'static str, schema: RefOr<Schema>) {
        self.body(media_type, schema);
    }

    pub(crate) fn body(&mut self, media_type: &'static str, schema: RefOr<Schema>) {
        self.body_media_type = Some(media_type);
        self.request_body = Some(
            RequestBody::builder()
                .content(media_type, Content::new(Some(schema)))
                .required(Some(Required::True))
                .build(),
        );
    }

    pub(crate) fn open_body(&mut self, media_type: &'static str) {
        self.body(media_type, any_value());
    }

    pub(crate) fn path_schema(&mut self, schema: RefOr<Schema>) {
        if let [name] = self.path_names.as_slice() {
            let param = Parameter::builder()
                .name(name.clone())
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(schema))
                .build();
            self.parameters.push(param);
        }
    }

    pub(crate) fn params<T: IntoParams>(&mut self, location: ParameterIn) {
        self.parameters.extend(T::into_params(|| Some(location.clone())));
    }
}

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

/// The empty schema: any value (for types that do not implement `ToSchema`).
fn any_value() -> RefOr<Schema> {
    RefOr::T(Schema::Object(Object::builder().schema_type(SchemaType::AnyValue).build()))
}
