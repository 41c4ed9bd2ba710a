// Server-Sent Events (the WHATWG "text/event-stream" format): writing events
// on the server side and reading them back on the client side. Pure; a
// parser is for one stream and one thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace dc {

struct SseEvent {
  std::string id;     // "" when the event carried no id
  std::string event;  // "" means "message"
  std::string data;   // data lines joined with '\n'
};

// "id: ID\nevent: EVENT\ndata: line\n...\n\n". Line breaks in `id` and
// `event` are dropped; `data` is split into one data line per line.
std::string format_sse_event(std::string_view id, std::string_view event, std::string_view data);
// ": text\n\n" (a comment: keeps the connection alive, ignored by clients).
std::string format_sse_comment(std::string_view text);

class SseParser {
 public:
  // Takes the next bytes of the stream and returns the events they
  // complete (an event ends at a blank line). Lines may arrive split
  // anywhere; CR, LF and CRLF all end a line.
  std::vector<SseEvent> feed(std::string_view bytes);

 private:
  void line(std::string_view text, std::vector<SseEvent>& out);
  std::string partial_;
  bool last_was_cr_ = false;
  SseEvent current_;
  bool has_data_ = false;
  bool has_fields_ = false;
};

}  // namespace dc
