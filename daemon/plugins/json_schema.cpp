#include "plugins/json_schema.hpp"

#include <cmath>
#include <map>
#include <optional>
#include <set>

// Boost.Regex rather than std::regex: libstdc++'s matcher recurses once per character
// (a 1 MiB string against ^(a|b)*$ overflows the stack) and its compiler overflows a signed
// integer on a huge repeat count; Boost's keeps its backtracking on the heap, within a
// bound, and throws past it or on catastrophic backtracking (docs/dependencies.md).
#include <boost/regex.hpp>

namespace ticketd {

namespace {

using json = nlohmann::json;

std::string escape_token(const std::string& key) {
    std::string out;
    for (char c : key) {
        if (c == '~') out += "~0";
        else if (c == '/') out += "~1";
        else out += c;
    }
    return out;
}

size_t utf8_length(const std::string& s) {
    size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
}

bool is_integer(const json& v) {
    if (v.is_number_integer()) return true;
    if (!v.is_number_float()) return false;
    const double d = v.get<double>();
    return std::isfinite(d) && std::floor(d) == d;
}

std::string type_of(const json& v) {
    if (v.is_null()) return "null";
    if (v.is_boolean()) return "boolean";
    if (is_integer(v)) return "integer";
    if (v.is_number()) return "number";
    if (v.is_string()) return "string";
    if (v.is_array()) return "array";
    return "object";
}

bool has_type(const json& v, const std::string& type) {
    if (type == "number") return v.is_number();
    if (type == "integer") return is_integer(v);
    return type_of(v) == type;
}

const std::set<std::string>& annotations() {
    static const std::set<std::string> keys = {"$schema", "$id", "$comment", "title", "description", "default",
                                               "examples", "format", "readOnly", "writeOnly", "contentMediaType",
                                               "contentEncoding", "definitions", "then", "else"};
    return keys;
}

const std::set<std::string>& assertions() {
    static const std::set<std::string> keys = {
        "type", "enum", "const", "properties", "required", "additionalProperties", "patternProperties",
        "propertyNames", "dependencies", "items", "additionalItems", "contains", "minItems", "maxItems",
        "uniqueItems", "minLength", "maxLength", "pattern", "minimum", "maximum", "exclusiveMinimum",
        "exclusiveMaximum", "multipleOf", "minProperties", "maxProperties", "allOf", "anyOf", "oneOf", "not",
        "if", "$ref"};
    return keys;
}

}  // namespace

struct json_schema::impl {
    json root;
    std::map<std::string, boost::regex> patterns;  // compiled once

    // --- compile: check that every keyword is understood, compile patterns ---
    void check(const json& s, const std::string& where) {
        if (s.is_boolean()) return;
        if (!s.is_object()) throw schema_error("schema at '" + where + "' must be an object or a boolean");
        for (const auto& [key, value] : s.items()) {
            const std::string at = where + "/" + escape_token(key);
            if (key == "$ref") {
                if (!value.is_string() || value.get<std::string>().rfind('#', 0) != 0) {
                    throw schema_error("'$ref' at '" + at + "' must point inside the schema (\"#/...\")");
                }
                resolve(value.get<std::string>(), at);
                continue;
            }
            if (key == "$id" && value.is_string() && value.get<std::string>().rfind('#', 0) != 0 && where != "") {
                throw schema_error("'$id' at '" + at + "' (a nested base URI) is not supported");
            }
            if (!annotations().contains(key) && !assertions().contains(key)) {
                throw schema_error("unsupported keyword '" + key + "' at '" + at + "'");
            }
            check_value(key, value, at);
            if (key == "pattern") {
                compile_pattern(value, at);
            } else if (key == "patternProperties") {
                for (const auto& [p, sub] : value.items()) {
                    compile_pattern(p, at);
                    check(sub, at + "/" + escape_token(p));
                }
            } else if (key == "properties" || key == "definitions" || key == "dependencies") {
                if (!value.is_object()) throw schema_error("'" + key + "' at '" + at + "' must be an object");
                for (const auto& [name, sub] : value.items()) {
                    if (key == "dependencies" && sub.is_array()) continue;
                    check(sub, at + "/" + escape_token(name));
                }
            } else if (key == "allOf" || key == "anyOf" || key == "oneOf") {
                if (!value.is_array() || value.empty()) throw schema_error("'" + key + "' at '" + at + "' must be a non-empty array");
                for (size_t i = 0; i < value.size(); ++i) check(value[i], at + "/" + std::to_string(i));
            } else if (key == "items" && value.is_array()) {
                for (size_t i = 0; i < value.size(); ++i) check(value[i], at + "/" + std::to_string(i));
            } else if (key == "not" || key == "if" || key == "then" || key == "else" || key == "items" ||
                       key == "additionalItems" || key == "additionalProperties" || key == "contains" ||
                       key == "propertyNames") {
                check(value, at);
            }
        }
    }

    // Keyword values of the wrong JSON type are schema errors, never validation crashes.
    static void check_value(const std::string& key, const json& value, const std::string& at) {
        static const std::set<std::string> counts = {"minItems", "maxItems", "minLength", "maxLength",
                                                     "minProperties", "maxProperties"};
        static const std::set<std::string> numbers = {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"};
        static const std::set<std::string> types = {"null", "boolean", "integer", "number", "string", "array", "object"};
        auto bad = [&](const std::string& expected) {
            throw schema_error("'" + key + "' at '" + at + "' must be " + expected + ", found " + value.dump());
        };
        // A count written as a float (3.0, 1e3) must still fit the size it is compared with.
        if (counts.contains(key) && (!is_integer(value) || value.get<double>() < 0 ||
                                     (value.is_number_float() && value.get<double>() > 9007199254740992.0))) {
            bad("a non-negative integer (as a float, at most 2^53)");
        }
        if (numbers.contains(key) && !value.is_number()) bad("a number");
        if (key == "multipleOf" && (!value.is_number() || value.get<double>() <= 0)) bad("a number > 0");
        if (key == "uniqueItems" && !value.is_boolean()) bad("true or false");
        if (key == "enum" && !value.is_array()) bad("an array");
        if (key == "required") {
            if (!value.is_array()) bad("an array of property names");
            for (const auto& name : value) {
                if (!name.is_string()) bad("an array of property names");
            }
        }
        if (key == "type") {
            for (const auto& t : value.is_array() ? value : json::array({value})) {
                if (!t.is_string() || !types.contains(t.get<std::string>())) {
                    bad("one of null, boolean, integer, number, string, array, object (or an array of them)");
                }
            }
        }
        if ((key == "properties" || key == "patternProperties" || key == "definitions" || key == "dependencies") &&
            !value.is_object()) {
            bad("an object");
        }
    }

    // Whether `pattern` matches somewhere in `text`; nullopt when Boost.Regex gave up (its
    // backtracking bound, or catastrophic backtracking).
    static std::optional<bool> search(const std::string& text, const boost::regex& pattern) {
        try {
            return boost::regex_search(text, pattern);
        } catch (const std::exception&) {
            return std::nullopt;
        }
    }

    void compile_pattern(const json& p, const std::string& at) {
        if (!p.is_string()) throw schema_error("'pattern' at '" + at + "' must be a string");
        const std::string text = p.get<std::string>();
        if (patterns.contains(text)) return;
        try {
            patterns.emplace(text, boost::regex(text, boost::regex::ECMAScript));
        } catch (const std::exception&) {  // boost::regex_error, or std::bad_alloc on a huge repeat
            throw schema_error("pattern '" + text + "' at '" + at + "' is not a valid regular expression");
        }
    }

    const json& resolve(const std::string& ref, const std::string& at) const {
        try {
            std::string pointer;
            if (!percent_unescape(ref.substr(1), pointer)) throw std::invalid_argument("bad escape");
            return root.at(json::json_pointer(pointer));
        } catch (const std::exception&) {
            throw schema_error("'$ref' \"" + ref + "\" at '" + at + "' points at nothing in the schema");
        }
    }

    static bool percent_unescape(const std::string& in, std::string& out) {
        for (size_t i = 0; i < in.size(); ++i) {
            if (in[i] != '%') {
                out += in[i];
                continue;
            }
            if (i + 2 >= in.size()) return false;
            out += static_cast<char>(std::stoi(in.substr(i + 1, 2), nullptr, 16));
            i += 2;
        }
        return true;
    }

    // --- validate ---
    using errors = std::vector<schema_violation>;

    bool valid(const json& s, const json& v) const {
        errors e;
        walk(s, v, "", e, true);
        return e.empty();
    }

    void fail(errors& out, const std::string& at, std::string detail) const { out.push_back({at, std::move(detail)}); }

    // `first_only`: stop at the first violation (used inside anyOf/oneOf/not/if).
    void walk(const json& s, const json& v, const std::string& at, errors& out, bool first_only) const {
        if (s.is_boolean()) {
            if (!s.get<bool>()) fail(out, at, "no value is allowed here");
            return;
        }
        auto done = [&] { return first_only && !out.empty(); };
        if (auto it = s.find("$ref"); it != s.end()) {
            // draft-07: $ref overrides its siblings
            walk(resolve(it->get<std::string>(), at), v, at, out, first_only);
            return;
        }
        if (auto it = s.find("type"); it != s.end()) {
            bool ok = false;
            std::string names;
            for (const auto& t : it->is_array() ? *it : json::array({*it})) {
                ok = ok || has_type(v, t.get<std::string>());
                names += (names.empty() ? "" : " or ") + t.get<std::string>();
            }
            if (!ok) return fail(out, at, "must be of type " + names + ", not " + type_of(v));
        }
        if (auto it = s.find("enum"); it != s.end()) {
            bool ok = false;
            for (const auto& option : *it) ok = ok || option == v;
            if (!ok) fail(out, at, "must be one of " + it->dump());
        }
        if (auto it = s.find("const"); it != s.end() && *it != v) fail(out, at, "must be " + it->dump());
        for (const char* key : {"allOf", "anyOf", "oneOf"}) {
            auto it = s.find(key);
            if (it == s.end()) continue;
            size_t matched = 0;
            errors inner;
            for (const auto& sub : *it) {
                errors e;
                walk(sub, v, at, e, std::string(key) != "allOf");
                if (e.empty()) ++matched;
                else inner.insert(inner.end(), e.begin(), e.end());
            }
            if (std::string(key) == "allOf" && matched != it->size()) out.insert(out.end(), inner.begin(), inner.end());
            if (std::string(key) == "anyOf" && matched == 0) fail(out, at, "must match at least one of the anyOf schemas");
            if (std::string(key) == "oneOf" && matched != 1) {
                fail(out, at, "must match exactly one of the oneOf schemas (matched " + std::to_string(matched) + ")");
            }
        }
        if (auto it = s.find("not"); it != s.end() && valid(*it, v)) fail(out, at, "must not match the 'not' schema");
        if (auto it = s.find("if"); it != s.end()) {
            const bool cond = valid(*it, v);
            const auto branch = s.find(cond ? "then" : "else");
            if (branch != s.end()) walk(*branch, v, at, out, first_only);
        }
        if (done()) return;
        if (v.is_number()) numbers(s, v, at, out);
        else if (v.is_string()) strings(s, v, at, out);
        else if (v.is_array()) arrays(s, v, at, out, first_only);
        else if (v.is_object()) objects(s, v, at, out, first_only);
    }

    void numbers(const json& s, const json& v, const std::string& at, errors& out) const {
        const double x = v.get<double>();
        auto bound = [&](const char* key, auto bad, const char* text) {
            if (auto it = s.find(key); it != s.end() && it->is_number() && bad(x, it->template get<double>())) {
                fail(out, at, std::string(text) + " " + it->dump());
            }
        };
        bound("minimum", [](double a, double b) { return a < b; }, "must be >=");
        bound("maximum", [](double a, double b) { return a > b; }, "must be <=");
        bound("exclusiveMinimum", [](double a, double b) { return a <= b; }, "must be >");
        bound("exclusiveMaximum", [](double a, double b) { return a >= b; }, "must be <");
        if (auto it = s.find("multipleOf"); it != s.end()) {
            const double q = x / it->get<double>();
            if (!std::isfinite(q) || std::fabs(q - std::round(q)) > 1e-9 * std::max(1.0, std::fabs(q))) {
                fail(out, at, "must be a multiple of " + it->dump());
            }
        }
    }

    void strings(const json& s, const json& v, const std::string& at, errors& out) const {
        const auto& text = v.get_ref<const std::string&>();
        const size_t length = utf8_length(text);
        if (auto it = s.find("minLength"); it != s.end() && length < it->get<size_t>()) {
            fail(out, at, "must be at least " + it->dump() + " characters");
        }
        if (auto it = s.find("maxLength"); it != s.end() && length > it->get<size_t>()) {
            fail(out, at, "must be at most " + it->dump() + " characters");
        }
        if (auto it = s.find("pattern"); it != s.end()) {
            const auto found = search(text, patterns.at(it->get<std::string>()));
            if (!found) fail(out, at, "is too long or complex to check against the pattern " + it->dump());
            else if (!*found) fail(out, at, "must match the pattern " + it->dump());
        }
    }

    void arrays(const json& s, const json& v, const std::string& at, errors& out, bool first_only) const {
        if (auto it = s.find("minItems"); it != s.end() && v.size() < it->get<size_t>()) {
            fail(out, at, "must have at least " + it->dump() + " items");
        }
        if (auto it = s.find("maxItems"); it != s.end() && v.size() > it->get<size_t>()) {
            fail(out, at, "must have at most " + it->dump() + " items");
        }
        if (auto it = s.find("uniqueItems"); it != s.end() && it->get<bool>()) {
            for (size_t i = 0; i < v.size(); ++i) {
                for (size_t j = i + 1; j < v.size(); ++j) {
                    if (v[i] == v[j]) return fail(out, at, "must not contain duplicates (items " + std::to_string(i) + " and " + std::to_string(j) + ")");
                }
            }
        }
        if (auto it = s.find("items"); it != s.end()) {
            if (it->is_array()) {
                for (size_t i = 0; i < v.size() && i < it->size(); ++i) walk((*it)[i], v[i], at + "/" + std::to_string(i), out, first_only);
                if (auto extra = s.find("additionalItems"); extra != s.end()) {
                    for (size_t i = it->size(); i < v.size(); ++i) walk(*extra, v[i], at + "/" + std::to_string(i), out, first_only);
                }
            } else {
                for (size_t i = 0; i < v.size(); ++i) walk(*it, v[i], at + "/" + std::to_string(i), out, first_only);
            }
        }
        if (auto it = s.find("contains"); it != s.end()) {
            bool any = false;
            for (const auto& item : v) any = any || valid(*it, item);
            if (!any) fail(out, at, "must contain an item matching the 'contains' schema");
        }
    }

    void objects(const json& s, const json& v, const std::string& at, errors& out, bool first_only) const {
        if (auto it = s.find("minProperties"); it != s.end() && v.size() < it->get<size_t>()) {
            fail(out, at, "must have at least " + it->dump() + " properties");
        }
        if (auto it = s.find("maxProperties"); it != s.end() && v.size() > it->get<size_t>()) {
            fail(out, at, "must have at most " + it->dump() + " properties");
        }
        if (auto it = s.find("required"); it != s.end()) {
            for (const auto& name : *it) {
                if (!v.contains(name.get<std::string>())) fail(out, at + "/" + escape_token(name), "is required");
            }
        }
        const auto properties = s.find("properties");
        const auto pattern_properties = s.find("patternProperties");
        const auto additional = s.find("additionalProperties");
        const auto names = s.find("propertyNames");
        for (const auto& [key, value] : v.items()) {
            const std::string child = at + "/" + escape_token(key);
            bool matched = false;
            if (properties != s.end()) {
                if (auto p = properties->find(key); p != properties->end()) {
                    matched = true;
                    walk(*p, value, child, out, first_only);
                }
            }
            if (pattern_properties != s.end()) {
                for (const auto& [pattern, sub] : pattern_properties->items()) {
                    const auto found = search(key, patterns.at(pattern));
                    if (!found) {
                        fail(out, child, "is a property name too long or complex to check against " + pattern);
                    } else if (*found) {
                        matched = true;
                        walk(sub, value, child, out, first_only);
                    }
                }
            }
            if (!matched && additional != s.end()) {
                if (additional->is_boolean() && !additional->get<bool>()) fail(out, child, "is not an allowed property");
                else walk(*additional, value, child, out, first_only);
            }
            if (names != s.end() && !valid(*names, key)) fail(out, child, "is not an allowed property name");
            if (first_only && !out.empty()) return;
        }
        if (auto deps = s.find("dependencies"); deps != s.end()) {
            for (const auto& [name, dep] : deps->items()) {
                if (!v.contains(name)) continue;
                if (dep.is_array()) {
                    for (const auto& other : dep) {
                        if (!v.contains(other.get<std::string>())) {
                            fail(out, at + "/" + escape_token(other), "is required when '" + name + "' is present");
                        }
                    }
                } else {
                    walk(dep, v, at, out, first_only);
                }
            }
        }
    }
};

json_schema::json_schema(json schema) : impl_(std::make_unique<impl>()) {
    impl_->root = std::move(schema);
    impl_->check(impl_->root, "");
}

json_schema::~json_schema() = default;
json_schema::json_schema(json_schema&&) noexcept = default;
json_schema& json_schema::operator=(json_schema&&) noexcept = default;

std::vector<schema_violation> json_schema::validate(const json& instance) const {
    std::vector<schema_violation> out;
    impl_->walk(impl_->root, instance, "", out, false);
    return out;
}

const json& json_schema::document() const { return impl_->root; }

}  // namespace ticketd
