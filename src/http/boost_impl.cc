// The compiled parts of Boost.Asio (with its OpenSSL layer) and Boost.Beast,
// built once here instead of in every file that includes them
// (BOOST_ASIO_SEPARATE_COMPILATION, BOOST_BEAST_SEPARATE_COMPILATION: see
// CMakeLists.txt). Nothing else belongs in this file.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
