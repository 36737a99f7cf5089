"""Recurrent layers (Elman RNN, LSTM, GRU) with back-propagation through time.

One file per idea: :mod:`.stepping` holds what the three share (parameters in torch's layout,
the loop over time, back-propagation through time and the weight gradients); :mod:`.rnn`,
:mod:`.lstm` and :mod:`.gru` each write their cell's step as the equations, and its derivative.
"""

from companion.numpy.recurrent.gru import GRU
from companion.numpy.recurrent.lstm import LSTM
from companion.numpy.recurrent.rnn import RNN

__all__ = ["RNN", "LSTM", "GRU"]
