// Reads Dubbo frames with Caucho's reference Hessian 2 implementation (Debian libhessian-java), the
// decoder Java Dubbo builds on, and prints one JSON object per frame file given as an argument:
//   request:  {"dubboVersion","service","version","method","parameterTypes","argCount","attachments"}
//   response: {"status","message"} for a non-OK status (the body is one string)
// Used by test/codec/java-hessian.test.ts to check frames written by the .wasm's encoder.
import com.caucho.hessian.io.Hessian2Input;
import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

public class DubboBodyReader {
  private static final Pattern TYPE = Pattern.compile("\\[*(L[^;]*;|[VZBCDFIJS])");

  public static void main(String[] args) throws Exception {
    for (String file : args) {
      byte[] frame = Files.readAllBytes(Paths.get(file));
      Hessian2Input in = new Hessian2Input(new ByteArrayInputStream(frame, 16, frame.length - 16));
      StringBuilder out = new StringBuilder("{");
      if ((frame[2] & 0x80) != 0) {
        field(out, "dubboVersion", in.readString());
        field(out, "service", in.readString());
        field(out, "version", in.readString());
        field(out, "method", in.readString());
        String desc = in.readString();
        field(out, "parameterTypes", desc);
        int count = 0;
        Matcher m = TYPE.matcher(desc);
        while (m.find()) count++;
        for (int i = 0; i < count; i++) in.readObject();
        out.append(",\"argCount\":").append(count);
        Map<?, ?> attachments = (Map<?, ?>) in.readObject();
        out.append(",\"attachments\":{");
        boolean first = true;
        for (Map.Entry<?, ?> e : new TreeMap<Object, Object>(attachments).entrySet()) {
          if (!first) out.append(',');
          first = false;
          out.append(json(String.valueOf(e.getKey()))).append(':').append(json(String.valueOf(e.getValue())));
        }
        out.append('}');
      } else {
        out.append("\"status\":").append(frame[3] & 0xff);
        field(out, "message", in.readString());
      }
      out.append(",\"bytesLeft\":").append(frame.length - 16 - countRead(in, frame.length - 16));
      System.out.println(out.append('}'));
    }
  }

  /** Bytes the input consumed: reading one more byte must hit the end (-1) when the body is exact. */
  private static int countRead(Hessian2Input in, int bodyLength) throws Exception {
    return in.read() == -1 ? bodyLength : bodyLength - 1;
  }

  private static void field(StringBuilder out, String name, String value) {
    if (out.length() > 1) out.append(',');
    out.append(json(name)).append(':').append(value == null ? "null" : json(value));
  }

  private static String json(String s) {
    StringBuilder b = new StringBuilder("\"");
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '"' || c == '\\') b.append('\\').append(c);
      else if (c < 0x20 || c > 0x7e) b.append(String.format("\\u%04x", (int) c));
      else b.append(c);
    }
    return b.append('"').toString();
  }
}
