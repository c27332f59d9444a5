#include "api/client_json.hpp"

#include <vector>

namespace ticketd {

namespace {

using json = nlohmann::json;

// nlohmann's own DOM builder, with a depth check at every object and array it opens. The
// parser is iterative; stopping at the limit keeps the tree as shallow as the limit.
class bounded_dom {
   public:
    bounded_dom(json& root, size_t max_depth) : dom_(root, false), max_depth_(max_depth) {}

    bool null() { return dom_.null(); }
    bool boolean(bool v) { return dom_.boolean(v); }
    bool number_integer(json::number_integer_t v) { return dom_.number_integer(v); }
    bool number_unsigned(json::number_unsigned_t v) { return dom_.number_unsigned(v); }
    bool number_float(json::number_float_t v, const json::string_t& s) { return dom_.number_float(v, s); }
    bool string(json::string_t& v) { return dom_.string(v); }
    bool binary(json::binary_t& v) { return dom_.binary(v); }
    bool start_object(std::size_t n) { return open() && dom_.start_object(n); }
    bool key(json::string_t& k) { return dom_.key(k); }
    bool end_object() { return close() && dom_.end_object(); }
    bool start_array(std::size_t n) { return open() && dom_.start_array(n); }
    bool end_array() { return close() && dom_.end_array(); }
    bool parse_error(std::size_t position, const std::string& token, const nlohmann::detail::exception& e) {
        error_position_ = position;
        return dom_.parse_error(position, token, e);
    }

    bool too_deep() const { return too_deep_; }
    size_t error_position() const { return error_position_; }

   private:
    bool open() {
        if (++depth_ <= max_depth_) return true;
        too_deep_ = true;
        return false;
    }
    bool close() {
        --depth_;
        return true;
    }

    nlohmann::detail::json_sax_dom_parser<json> dom_;
    size_t max_depth_;
    size_t depth_ = 0;
    bool too_deep_ = false;
    size_t error_position_ = 0;
};

// Walks the text again, only when it was too deep, to name where (the first value past
// the limit), without building anything.
class depth_locator : public nlohmann::json_sax<json> {
   public:
    explicit depth_locator(size_t max_depth) : max_depth_(max_depth) {}

    bool null() override { return value(); }
    bool boolean(bool) override { return value(); }
    bool number_integer(number_integer_t) override { return value(); }
    bool number_unsigned(number_unsigned_t) override { return value(); }
    bool number_float(number_float_t, const string_t&) override { return value(); }
    bool string(string_t&) override { return value(); }
    bool binary(binary_t&) override { return value(); }
    bool start_object(std::size_t) override { return open(false); }
    bool key(string_t& k) override {
        frames_.back().key = k;
        return true;
    }
    bool end_object() override { return close(); }
    bool start_array(std::size_t) override { return open(true); }
    bool end_array() override { return close(); }
    bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }

    std::string pointer;

   private:
    struct frame {
        bool array = false;
        size_t next_index = 0;
        std::string key;
    };
    // A value starts inside the innermost frame: an array counts it.
    void enter_value() {
        if (!frames_.empty() && frames_.back().array) frames_.back().next_index++;
    }
    bool value() {
        enter_value();
        return true;
    }
    bool open(bool array) {
        enter_value();
        if (frames_.size() + 1 > max_depth_) {
            for (const auto& f : frames_) {
                pointer += '/';
                if (f.array) {
                    pointer += std::to_string(f.next_index - 1);
                    continue;
                }
                for (const char ch : f.key) {  // RFC 6901: ~ and / escaped
                    if (ch == '~') pointer += "~0";
                    else if (ch == '/') pointer += "~1";
                    else pointer += ch;
                }
            }
            return false;
        }
        frames_.push_back({array, 0, {}});
        return true;
    }
    bool close() {
        frames_.pop_back();
        return true;
    }

    size_t max_depth_;
    std::vector<frame> frames_;
};

}  // namespace

client_json parse_client_json(std::string_view text, size_t max_depth) {
    client_json out;
    bounded_dom dom(out.value, max_depth);
    const bool ok = json::sax_parse(text.begin(), text.end(), &dom);
    if (ok) return out;
    out.value = json(json::value_t::discarded);
    if (dom.too_deep()) {
        depth_locator locate(max_depth);
        json::sax_parse(text.begin(), text.end(), &locate);
        out.pointer = locate.pointer;
        out.detail = "nested deeper than " + std::to_string(max_depth) + " levels of objects and arrays";
    } else {
        out.detail = "the body is not valid JSON (at byte " + std::to_string(dom.error_position()) + ")";
    }
    return out;
}

}  // namespace ticketd
