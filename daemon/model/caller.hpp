// Who is asking: the principal a request acts for, and whether it may act on every
// principal's jobs and uploads (an administrator's key). Anything another principal owns
// is, to everyone else, exactly as if it did not exist.
#pragma once

#include <string>

namespace ticketd {

struct caller {
    std::string principal;
    bool every_principal = false;  // the admin scope

    bool may_see(const std::string& owner) const { return every_principal || owner == principal; }
};

}  // namespace ticketd
