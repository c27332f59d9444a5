// One HTTP/1.1 connection: reads requests under the server's limits (header and body
// size, deadlines, the memory all bodies share), hands each to the request handler and
// writes its answer, in order; notices a client that hangs up during a long-poll; closes
// with a lingering close after an early answer.
#pragma once

#include "http/server_state.hpp"

#include <memory>
#include <string>

namespace ticketd {

// Starts serving an accepted connection. `client` is the peer's address as a key, already
// counted in st->clients; `over_capacity`: it is answered 503 and closed.
void start_session(connection_socket&& socket, std::shared_ptr<http_server::state> st, bool over_capacity,
                   std::string client);

}  // namespace ticketd
