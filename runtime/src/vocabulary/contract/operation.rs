//! What an endpoint's OpenAPI operation says of its inputs and outputs ([`OperationDoc`]),
//! filled in by the attribute's expansion from the handler's types
//! ([`crate::openapi::describe`]).

use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::openapi::request_body::RequestBody;
use utoipa::openapi::schema::{Object, Schema, SchemaType, Type};
use utoipa::openapi::{Content, Ref, RefOr, Required};
use utoipa::{IntoParams, ToSchema};

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

    /// One parameter per property of `T`'s object schema (for a `Query<T>` whose `T` derives
    /// `ToSchema` but not `IntoParams`): its schema, description and whether it is required.
    pub(crate) fn params_from_schema<T: ToSchema>(&mut self, location: ParameterIn) {
        let RefOr::T(Schema::Object(object)) = T::schema() else { return };
        for (name, property) in &object.properties {
            let description = match property {
                RefOr::T(Schema::Object(property)) => property.description.clone(),
                _ => None,
            };
            let required = if object.required.contains(name) { Required::True } else { Required::False };
            self.parameters.push(
                Parameter::builder()
                    .name(name.clone())
                    .parameter_in(location.clone())
                    .required(required)
                    .description(description)
                    .schema(Some(property.clone()))
                    .build(),
            );
        }
    }
}

/// The empty schema: any value (for types that do not implement `ToSchema`).
pub(crate) fn any_value() -> RefOr<Schema> {
    RefOr::T(Schema::Object(Object::builder().schema_type(SchemaType::AnyValue).build()))
}
