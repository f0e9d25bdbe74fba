"""The character-level RNN/LSTM/GRU of the paper: network, predictor, trace."""
