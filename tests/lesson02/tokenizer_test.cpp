// Lesson 2 tests: from text to tokens to ids.
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "reference/tokenizer.hpp"

namespace {

using mha::tokenize;
using mha::Vocabulary;
using Tokens = std::vector<std::string>;
using Ids = std::vector<std::size_t>;

TEST(Tokenize, LowerCasesAndDropsPunctuation) {
    EXPECT_EQ(tokenize("The animal didn't cross the street, because it was too tired!"),
              (Tokens{"the", "animal", "didn't", "cross", "the", "street", "because", "it", "was", "too", "tired"}));
    EXPECT_EQ(tokenize("I went to the BANK."), (Tokens{"i", "went", "to", "the", "bank"}));
}

TEST(Tokenize, ApostropheInsideAWordStaysOutsideItSeparates) {
    EXPECT_EQ(tokenize("didn't"), Tokens{"didn't"});
    EXPECT_EQ(tokenize("It's 'quoted' dogs'"), (Tokens{"it's", "quoted", "dogs"}));
}

TEST(Tokenize, DigitsAreWordCharactersEverythingElseSeparates) {
    EXPECT_EQ(tokenize("GPT-2 has\t1.5B\nparameters"), (Tokens{"gpt", "2", "has", "1", "5b", "parameters"}));
}

TEST(Tokenize, TextWithoutWordsGivesNoTokens) {
    EXPECT_TRUE(tokenize("").empty());
    EXPECT_TRUE(tokenize("  ,.!? -- '' ").empty());
}

TEST(Vocabulary, IdsInOrderOfFirstAppearanceAfterUnk) {
    const Vocabulary vocabulary({"I went to the bank", "The bank, the river."});
    // <unk> = 0; i, went, to, the, bank = 1..5; "The", "bank" and "the" again add nothing; river = 6.
    ASSERT_EQ(vocabulary.size(), 7u);
    const Tokens expected = {"<unk>", "i", "went", "to", "the", "bank", "river"};
    for (std::size_t id = 0; id < expected.size(); ++id) {
        EXPECT_EQ(vocabulary.token(id), expected[id]) << "id " << id;
        EXPECT_EQ(vocabulary.id(expected[id]), id) << expected[id];
    }
}

TEST(Vocabulary, UnknownWordsMapToUnkZero) {
    const Vocabulary vocabulary({"I went to the bank"});
    EXPECT_EQ(Vocabulary::unknown_id, 0u);
    EXPECT_EQ(vocabulary.id("river"), 0u);
    EXPECT_EQ(vocabulary.id("Bank"), 0u);  // id() takes a token, already lower case
    EXPECT_EQ(vocabulary.token(0), "<unk>");
    const Vocabulary empty({});
    EXPECT_EQ(empty.size(), 1u);  // only <unk>
}

TEST(Vocabulary, TokenOutOfRangeThrows) {
    const Vocabulary vocabulary({"a b c"});  // ids 0..3
    EXPECT_EQ(vocabulary.token(3), "c");
    EXPECT_THROW(vocabulary.token(4), std::out_of_range);
    EXPECT_THROW(vocabulary.token(1000), std::out_of_range);
}

TEST(Vocabulary, EncodeTokenizesThenLooksUp) {
    const Vocabulary vocabulary({"I went to the bank"});  // i 1, went 2, to 3, the 4, bank 5
    EXPECT_EQ(vocabulary.encode("The river BANK!"), (Ids{4, 0, 5}));
    EXPECT_EQ(vocabulary.encode("bank bank"), (Ids{5, 5}));
    EXPECT_TRUE(vocabulary.encode("...").empty());
}

}  // namespace
