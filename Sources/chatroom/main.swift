import ArgumentParser
import Hummingbird
import HummingbirdWebSocket
import JWTKit
import SQLiteNIO
import _CryptoExtras
print("hi")
