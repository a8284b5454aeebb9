// visits: a guest book kept in typed structs whose fields snapshot
// themselves (docs/tutorial.md, "Typed structs: fields that snapshot
// themselves"). `visits` counts its runs; `visits NAME` also signs the book.
// The book is visits.pool in the current directory.
#include <cstdint>
#include <cstring>
#include <iostream>

#include <ferrite/ferrite.h>

struct signature {
  char name[32];
  ferrite::p<ferrite::pptr<signature>> previous;  // the one before, or null
};
FERRITE_TYPE(signature, "visits.Signature", name, previous)

struct guest_book {
  ferrite::p<std::int64_t> runs;                // every run of the program
  ferrite::p<std::int64_t> signed_count;        // the signatures
  ferrite::p<ferrite::pptr<signature>> latest;  // the newest signature
  char first_name[32];                          // who signed first
};
FERRITE_TYPE(guest_book, "visits.GuestBook", runs, signed_count, latest, first_name)

int main(int argc, char** argv) {
  try {
    ferrite::pool pool = ferrite::pool::open("visits.pool");  // create or open
    ferrite::pptr<guest_book> book = pool.root<guest_book>();
    book->runs += 1;  // a transaction of its own: durable when it returns
    if (argc > 1) {
      pool.transaction([&] {  // the signature and the count, or neither
        ferrite::pptr<signature> s = pool.make<signature>();
        std::strncpy(s->name, argv[1], sizeof s->name - 1);  // a new object needs no snapshot
        s->previous = book->latest.get();  // p = p does not compile: .get() the value
        book->latest = s;
        ++book->signed_count;
        if (book->signed_count == 1) {
          ferrite::tx_snapshot(&book->first_name);  // an array: snapshot it by hand
          std::strncpy(book->first_name, argv[1], sizeof book->first_name - 1);
        }
      });
    }
    std::cout << "Run " << book->runs << ".";
    if (book->signed_count == 0) {
      std::cout << " Nobody has signed yet: sign with 'visits NAME'.\n";
      return 0;
    }
    std::cout << " Signatures (" << book->signed_count << "), latest first:";
    const char* separator = " ";
    for (ferrite::pptr<signature> s = book->latest; s; s = s->previous) {
      std::cout << separator << s->name;
      separator = ", ";
    }
    std::cout << ". The first was " << book->first_name << ".\n";
  } catch (const ferrite::error& e) {
    std::cerr << "visits: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
