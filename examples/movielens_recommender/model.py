"""keras.io "Collaborative Filtering for Movie Recommendations" (Siddhartha Banerjee), ported.

The original subclasses `keras.Model`: user and movie embeddings (size 50, he_normal, a small
L2 penalty) and per-user and per-movie bias embeddings; the score is the dot product plus both
biases through a sigmoid, trained with `BinaryCrossentropy` on ratings scaled to [0, 1] and
`Adam(learning_rate=0.001)`, input pairs (user, movie) shaped (n, 2). The builder here returns
the model UNBUILT, as a subclassed model usually is (plain `fit` builds it on the first batch).
The ratings are synthetic: a hidden taste vector per user and per movie decides them.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops


class RecommenderNet(keras.Model):
    def __init__(self, num_users: int, num_movies: int, embedding_size: int, **kwargs):
        super().__init__(**kwargs)
        self.user_embedding = layers.Embedding(
            num_users,
            embedding_size,
            embeddings_initializer="he_normal",
            embeddings_regularizer=keras.regularizers.l2(1e-6),
        )
        self.user_bias = layers.Embedding(num_users, 1)
        self.movie_embedding = layers.Embedding(
            num_movies,
            embedding_size,
            embeddings_initializer="he_normal",
            embeddings_regularizer=keras.regularizers.l2(1e-6),
        )
        self.movie_bias = layers.Embedding(num_movies, 1)

    def call(self, inputs):
        users, movies = inputs[:, 0], inputs[:, 1]
        dot = ops.sum(self.user_embedding(users) * self.movie_embedding(movies), axis=1)
        x = ops.expand_dims(dot, -1) + self.user_bias(users) + self.movie_bias(movies)
        return ops.sigmoid(x)  # the rating on a 0-1 scale


def build(num_users: int = 610, num_movies: int = 9724, embedding_size: int = 50):
    """A RecommenderNet, not built: its weights exist only after it sees a batch."""
    return RecommenderNet(num_users, num_movies, embedding_size)


def load(n: int = 600, num_users: int = 610, num_movies: int = 9724, seed: int = 0):
    """(x, y, x_val, y_val): int pairs (user, movie) and ratings (0.5 to 5 stars) scaled to
    [0, 1] as the original's (r - min) / (max - min); 90 % train, 10 % validation."""
    rng = np.random.default_rng(seed)
    users = rng.integers(0, num_users, size=n)
    movies = rng.integers(0, num_movies, size=n)
    taste_u = rng.normal(size=(num_users, 4))
    taste_m = rng.normal(size=(num_movies, 4))
    score = np.sum(taste_u[users] * taste_m[movies], axis=1)
    stars = np.clip(np.round((3.0 + score) * 2) / 2, 0.5, 5.0)
    y = ((stars - 0.5) / 4.5).astype("float32")
    x = np.stack([users, movies], axis=1).astype("int32")
    cut = int(0.9 * n)
    return x[:cut], y[:cut], x[cut:], y[cut:]
