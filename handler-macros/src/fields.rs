//! The per-instance fields of a derived handler: `#[callback(name)]` on the field that holds the
//! instance's name, `#[callback(options)]` on the one that holds its flags. A type without them
//! keeps its name and flags as constants.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::meta::ParseNestedMeta;
use syn::spanned::Spanned;
use syn::{Attribute, Data, Field, Index, Member};

use crate::errors::Errors;
use crate::events::closest;
use crate::options::{HANDLER_KEYS, located};

/// The keys a field's `#[callback(...)]` takes.
const FIELD_KEYS: [&str; 2] = ["name", "options"];

/// A marked field.
pub(crate) struct InstanceField {
    /// How `self` reaches it: its name, or its index in a tuple struct.
    member: Member,
    /// Where its type is: a wrong type is an error there.
    ty_span: Span,
}

impl InstanceField {
    fn describe(&self) -> String {
        match &self.member {
            Member::Named(ident) => format!("`{ident}`"),
            Member::Unnamed(index) => format!("field `{}`", index.index),
        }
    }

    /// `&self.<member>`, located at the field's type.
    fn access(&self) -> TokenStream {
        let member = &self.member;
        quote_spanned!(located(self.ty_span) => &self.#member)
    }
}

/// The marked fields of a handler type.
#[derive(Default)]
pub(crate) struct InstanceFields {
    /// The field marked `#[callback(name)]`.
    pub(crate) name: Option<InstanceField>,
    /// The field marked `#[callback(options)]`.
    pub(crate) options: Option<InstanceField>,
}

impl InstanceFields {
    /// The `HandlerConfig` methods that read the marked fields (none for an unmarked type: the
    /// trait's defaults keep the name and flags constant).
    pub(crate) fn methods(&self, p: &TokenStream) -> TokenStream {
        let name = self.name.as_ref().map(|field| {
            let access = field.access();
            quote! {
                #[inline]
                fn instance_name(&self) -> ::core::option::Option<&str> {
                    #p::field_name(#access)
                }
            }
        });
        let options = self.options.as_ref().map(|field| {
            let access = field.access();
            quote! {
                #[inline]
                fn instance_options(&self, defaults: #p::HandlerOptions) -> #p::HandlerOptions {
                    #p::field_options(#access, defaults)
                }
            }
        });
        quote!(#name #options)
    }
}

fn callback_attrs(field: &Field) -> impl Iterator<Item = &Attribute> {
    field.attrs.iter().filter(|a| a.path().is_ident("callback"))
}

/// Reads the marked fields; every mistake is reported, each at its attribute.
pub(crate) fn parse_fields(data: &Data) -> syn::Result<InstanceFields> {
    let mut errors = Errors::default();
    let mut out = InstanceFields::default();
    match data {
        Data::Struct(data) => {
            for (index, field) in data.fields.iter().enumerate() {
                let member = match &field.ident {
                    Some(ident) => Member::Named(ident.clone()),
                    None => Member::Unnamed(Index {
                        index: u32::try_from(index).unwrap_or(u32::MAX),
                        span: field.ty.span(),
                    }),
                };
                for attr in callback_attrs(field) {
                    if let Err(error) = parse_field_attr(attr, &member, field, &mut out) {
                        errors.push(error);
                    }
                }
            }
        }
        Data::Enum(data) => {
            for field in data.variants.iter().flat_map(|v| v.fields.iter()) {
                for attr in callback_attrs(field) {
                    errors.push(not_a_struct(attr, "an enum"));
                }
            }
        }
        Data::Union(data) => {
            for field in &data.fields.named {
                for attr in callback_attrs(field) {
                    errors.push(not_a_struct(attr, "a union"));
                }
            }
        }
    }
    errors.finish().map(|()| out)
}

fn not_a_struct(attr: &Attribute, what: &str) -> syn::Error {
    syn::Error::new_spanned(
        attr,
        format!(
            "`#[callback(...)]` marks a field of a struct, not of {what}: the handler reads the \
             field from every instance"
        ),
    )
}

fn parse_field_attr(
    attr: &Attribute,
    member: &Member,
    field: &Field,
    out: &mut InstanceFields,
) -> syn::Result<()> {
    attr.parse_nested_meta(|meta| {
        let key = meta
            .path
            .get_ident()
            .map(ToString::to_string)
            .unwrap_or_default();
        let (slot, holds) = match key.as_str() {
            "name" => (&mut out.name, "name"),
            "options" => (&mut out.options, "flags"),
            _ => return Err(unknown_field_key(&meta, &key)),
        };
        if meta.input.peek(syn::Token![=]) {
            let hint = if key == "name" {
                "; for one name for every instance, write `#[callback(name = \"...\")]` on the type"
            } else {
                ""
            };
            return Err(meta.error(format!(
                "on a field, `#[callback({key})]` takes no value: the field holds the {holds}{hint}"
            )));
        }
        if let Some(first) = slot {
            return Err(meta.error(format!(
                "two `#[callback({key})]` fields: {} already holds the {holds}",
                first.describe()
            )));
        }
        *slot = Some(InstanceField {
            member: member.clone(),
            ty_span: field.ty.span(),
        });
        Ok(())
    })
}

fn unknown_field_key(meta: &ParseNestedMeta<'_>, key: &str) -> syn::Error {
    if HANDLER_KEYS.contains(&key) {
        return meta.error(format!(
            "`{key}` is an option of the type: write it in `#[callback(...)]` on the type, or \
             set it per instance with a `#[callback(options)]` field"
        ));
    }
    let hint = match closest(key, FIELD_KEYS.iter().copied()) {
        Some(best) => format!("did you mean `{best}`?"),
        None => "a field takes `#[callback(name)]` or `#[callback(options)]`".to_owned(),
    };
    meta.error(format!("unknown field option `{key}`; {hint}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::DeriveInput;

    fn parse(input: TokenStream) -> syn::Result<InstanceFields> {
        let input: DeriveInput = syn::parse2(input)?;
        parse_fields(&input.data)
    }

    fn error(input: TokenStream) -> String {
        match parse(input) {
            Ok(_) => String::from("no error"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn reads_named_and_tuple_fields() {
        let fields = parse(quote! {
            struct H { seen: u32, #[callback(name)] label: String, #[callback(options)] flags: HandlerOptions }
        })
        .unwrap();
        let methods = fields.methods(&quote!(p)).to_string();
        assert!(methods.contains("fn instance_name"), "{methods}");
        assert!(
            methods.contains("p :: field_name (& self . label)"),
            "{methods}"
        );
        assert!(
            methods.contains("p :: field_options (& self . flags , defaults)"),
            "{methods}"
        );

        let fields = parse(quote!(
            struct T(u32, #[callback(name)] String);
        ))
        .unwrap();
        let methods = fields.methods(&quote!(p)).to_string();
        assert!(methods.contains("field_name (& self . 1)"), "{methods}");
        assert!(!methods.contains("instance_options"), "{methods}");
    }

    #[test]
    fn unmarked_types_get_no_methods() {
        let fields = parse(quote!(
            struct H {
                a: u32,
            }
        ))
        .unwrap();
        assert!(fields.methods(&quote!(p)).is_empty());
    }

    #[test]
    fn mistakes() {
        let cases = [
            (
                quote!(
                    struct H {
                        #[callback(name)]
                        a: String,
                        #[callback(name)]
                        b: String,
                    }
                ),
                "two `#[callback(name)]` fields: `a` already holds the name",
            ),
            (
                quote!(
                    struct H {
                        #[callback(name = "x")]
                        a: String,
                    }
                ),
                "takes no value",
            ),
            (
                quote!(
                    struct H {
                        #[callback(option)]
                        a: HandlerOptions,
                    }
                ),
                "did you mean `options`?",
            ),
            (
                quote!(
                    struct H {
                        #[callback(raise_error)]
                        a: bool,
                    }
                ),
                "`raise_error` is an option of the type",
            ),
            (
                quote!(
                    enum H {
                        A {
                            #[callback(name)]
                            a: String,
                        },
                    }
                ),
                "not of an enum",
            ),
        ];
        for (input, expected) in cases {
            let message = error(input);
            assert!(message.contains(expected), "{message} / {expected}");
        }
    }

    #[test]
    fn every_mistake_is_reported() {
        let Err(error) = parse(quote! {
            struct H { #[callback(nme)] a: String, #[callback(options = 1)] b: HandlerOptions }
        }) else {
            panic!("expected errors");
        };
        assert_eq!(error.into_iter().count(), 2);
    }
}
