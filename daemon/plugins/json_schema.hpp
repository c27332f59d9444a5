// JSON Schema (draft-07) validation of plugin settings and job inputs.
//
// Debian 12 packages no C++ JSON Schema validator, so this is a compact one for the
// draft-07 vocabulary a plugin needs: type, enum, const, properties, required,
// additionalProperties, patternProperties, propertyNames, dependencies, items,
// additionalItems, contains, min/maxItems, uniqueItems, min/maxLength, pattern,
// minimum, maximum, exclusiveMinimum, exclusiveMaximum, multipleOf, min/maxProperties,
// allOf, anyOf, oneOf, not, if/then/else, boolean schemas, and $ref to a JSON Pointer
// inside the same schema ("#/definitions/x"). Annotations (title, description, default,
// examples, format, $comment, ...) are accepted and ignored. Anything else (remote or
// $id-relative references, unknown keywords) is refused when the schema is compiled,
// so a plugin never gets a validation it did not ask for. It is checked against the
// official JSON-Schema-Test-Suite (Debian package json-schema-test-suite).
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace ticketd {

class schema_error : public std::runtime_error {
   public:
    using std::runtime_error::runtime_error;
};

struct schema_violation {
    std::string pointer;  // JSON Pointer into the validated document
    std::string detail;
};

class json_schema {
   public:
    // Throws schema_error naming the unsupported or malformed part.
    explicit json_schema(nlohmann::json schema);
    ~json_schema();
    json_schema(json_schema&&) noexcept;
    json_schema& operator=(json_schema&&) noexcept;

    // Every violation, each at the JSON Pointer of the offending value.
    std::vector<schema_violation> validate(const nlohmann::json& instance) const;
    const nlohmann::json& document() const;

   private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace ticketd
