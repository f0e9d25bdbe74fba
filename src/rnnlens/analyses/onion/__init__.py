"""The error onion (the paper's Section 4.4 and Figure 6): a model's errors peeled by a sequence of oracles.

An **error** is a predicted position whose true character got probability
below 0.5 (``THRESHOLD``) from the model at the step before. The oracles,
in this order, each remove only the errors still left, and each slice
records how many it removed (``breakdown.peel``):

1. **n-gram** (one slice): some n-gram model of orders 2..10 (1..9
   characters of context, modified Kneser-Ney on the model's training split)
   gives the true character more than 0.5.
2. **memory** (slices n = 100, 500, 1000, 5000): the character is in a word,
   not its first character, and the whole word occurs as a substring of the
   n characters before the word's first character. Since the windows grow,
   each slice holds what its window adds to the smaller ones.
3. **rare words** (slices t = 0..5): the character is in a word that occurs
   at most t times in the training split, counted as whole words and case
   sensitively (``Mary`` and ``mary`` are two words).
4. **word model** (three slices): the character just before it is a space
   or a tab; a quote that is not inside a word (``couldn't``'s apostrophe is
   part of its word, see ``words``); a newline. Any character qualifies,
   not only a word's first.
5. **punctuation** (one slice): the character is punctuation (``words``).
6. **boost** (slices b = 0.1, 0.2, 0.3, 0.4): the true character's
   probability plus b exceeds 0.5.

What is left is **unexplained**. Words are prose words (letters with
apostrophes inside) or code identifiers (``[A-Za-z_][A-Za-z0-9_]*``), chosen
by ``--words`` (``auto``: by the share of ``{};`` in the training text; see
``words``). The windows, counts, boosts and orders are options
(``OnionOptions``); the defaults are the paper's.

**Scaling up** (two models, small then big; ``breakdown.scaling``): for
each oracle of the *small* model's breakdown, and for its unexplained
errors, the number of the small model's errors in that category at whose
position the big model gives the true character at least 0.5, so that it
makes no error there. These add up to the small model's errors that the
big one does not make; the big model's own new errors are not subtracted
(the net change is the difference of the two error counts, which the
printed table shows beside it).

The result keeps each model's category of every position beside
``onion.json`` (``saved``: int16, -1 where there is no error, the index of
the slice that removed it, or the number of slices for unexplained), which
``rnnlens explore --onion`` colours the text by.
"""

from rnnlens.analyses.onion.breakdown import (BOOSTS, ORDERS, RARE, THRESHOLD, WINDOWS, Onion, OnionOptions,
                                              OnionText, error_onion, onion_text, peel, scaling)
from rnnlens.analyses.onion.report import OnionReport

__all__ = ["BOOSTS", "ORDERS", "RARE", "THRESHOLD", "WINDOWS", "Onion", "OnionOptions", "OnionReport", "OnionText",
           "error_onion", "onion_text", "peel", "scaling"]
