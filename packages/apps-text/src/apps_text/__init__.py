"""apps_text: fast tokenization, language models and ULMFiT text classifiers in a few lines."""

from apps_text.__about__ import __version__
from apps_text.awdlstm import (
    AWD_LSTM,
    EmbeddingDropout,
    RNNDropout,
    WeightDropout,
    awd_lstm_clas_config,
    awd_lstm_lm_config,
    awd_lstm_small_config,
    dropout_mask,
)
from apps_text.backends import EU_LANGS, HFTokenizer, SentencePieceTokenizer, SpacyTokenizer
from apps_text.corpus import STDLIB_LABELS, stdlib_corpus, stdlib_docstrings, stdlib_text, stdlib_text_corpus
from apps_text.data import LMDataLoader, LMTensorText, ReverseText, SortedDL, TextBlock, TextDataLoaders
from apps_text.interpret import TextClassificationInterpretation
from apps_text.learner import (
    LMLearner,
    RNNCallback,
    RNNRegularizer,
    TextLearner,
    get_text_vocab,
    language_model_learner,
    text_classifier_learner,
)
from apps_text.models import (
    MODEL_META,
    LinearDecoder,
    PoolingLinearClassifier,
    SentenceEncoder,
    SequentialRNN,
    awd_lstm_clas_split,
    awd_lstm_lm_split,
    get_language_model,
    get_text_classifier,
    masked_concat_pool,
    tfmer_clas_split,
    tfmer_lm_split,
)
from apps_text.numericalize import Numericalize, make_vocab
from apps_text.pretrained import (
    PRETRAINED_VOCAB,
    PRETRAINED_WEIGHTS,
    checksum_file,
    match_embeds,
    pretrained_dir,
    read_pretrained,
    save_pretrained,
)
from apps_text.rules import (
    BOS,
    EOS,
    FLD,
    PAD,
    SPECIAL_TOKENS,
    TK_MAJ,
    TK_REP,
    TK_UP,
    TK_WREP,
    UNK,
    default_post_rules,
    default_rules,
    fix_html,
    lowercase,
    replace_all_caps,
    replace_caps,
    replace_maj,
    replace_rep,
    replace_space,
    replace_wrep,
    rm_useless_spaces,
    spec_add_spaces,
)
from apps_text.tokenize import (
    TEXT_EXTENSIONS,
    TitledStr,
    Tokenizer,
    TokenizeWithRules,
    WordTokenizer,
    count_tokens,
    decode_tokens,
    read_counter,
    tokenize1,
    tokenize_df,
    tokenize_folder,
    tokenize_texts,
)
from apps_text.transformer import (
    Transformer,
    TransformerBlock,
    sinusoidal_positions,
    tfmer_clas_config,
    tfmer_lm_config,
    tfmer_small_config,
)
from trainloop_callbacks.metrics import Perplexity
from trainloop_callbacks.models.model_utils import ModelResetter

__all__ = [
    "__version__",
    # rules and special tokens
    "UNK", "PAD", "BOS", "EOS", "FLD", "TK_REP", "TK_WREP", "TK_UP", "TK_MAJ", "SPECIAL_TOKENS",
    "fix_html", "replace_rep", "replace_wrep", "spec_add_spaces", "rm_useless_spaces", "replace_all_caps",
    "replace_caps",
    "replace_maj", "lowercase", "replace_space", "default_rules", "default_post_rules",
    # tokenization
    "WordTokenizer", "SpacyTokenizer", "SentencePieceTokenizer", "HFTokenizer", "EU_LANGS", "TokenizeWithRules",
    "Tokenizer", "tokenize1", "tokenize_texts", "tokenize_df",
    "tokenize_folder", "decode_tokens", "count_tokens", "read_counter", "TitledStr", "TEXT_EXTENSIONS",
    # numericalization
    "make_vocab", "Numericalize",
    # data
    "LMTensorText", "ReverseText", "TextBlock", "LMDataLoader", "SortedDL", "TextDataLoaders",
    # models
    "dropout_mask", "RNNDropout", "WeightDropout", "EmbeddingDropout", "AWD_LSTM", "awd_lstm_lm_config",
    "awd_lstm_clas_config", "awd_lstm_small_config", "LinearDecoder", "SequentialRNN", "get_language_model",
    "SentenceEncoder", "masked_concat_pool", "PoolingLinearClassifier", "get_text_classifier", "awd_lstm_lm_split",
    "awd_lstm_clas_split", "MODEL_META",
    "Transformer", "TransformerBlock", "sinusoidal_positions", "tfmer_lm_config", "tfmer_clas_config",
    "tfmer_small_config", "tfmer_lm_split", "tfmer_clas_split",
    # pretrained weights from local files
    "save_pretrained", "read_pretrained", "match_embeds", "checksum_file", "pretrained_dir", "PRETRAINED_WEIGHTS",
    "PRETRAINED_VOCAB",
    # data that ships
    "stdlib_docstrings", "stdlib_corpus", "stdlib_text", "stdlib_text_corpus", "STDLIB_LABELS",
    # learners
    "RNNCallback", "RNNRegularizer", "TextLearner", "LMLearner", "language_model_learner",
    "text_classifier_learner", "get_text_vocab", "ModelResetter", "Perplexity",
    "TextClassificationInterpretation",
]  # fmt: skip
